using System.Security.Cryptography;
using System.Text;

namespace Jobsd.Data.Migrations;

/// <summary>One SQL script of the <c>db/</c> tree, identified by its folder and file name.</summary>
public sealed record MigrationScript(string Folder, string Name, string Text)
{
    public ScriptKind Kind { get; } = ScriptFolders.KindOf(Folder)
        ?? throw new ArgumentException($"'{Folder}' is not a migration folder (expected one of: {string.Join(", ", ScriptFolders.InRunOrder.Select(f => f.Folder))})", nameof(Folder));

    /// <summary>
    /// SHA-256 of the text with line endings normalised, so a checkout on another
    /// platform does not look like a changed script.
    /// </summary>
    public string Hash { get; } = Convert.ToHexStringLower(
        SHA256.HashData(Encoding.UTF8.GetBytes(Text.ReplaceLineEndings("\n"))));

    /// <summary>
    /// <c>*.notx.sql</c> scripts run outside a transaction, one statement at a time:
    /// <c>CREATE INDEX CONCURRENTLY</c> refuses to run inside one.
    /// </summary>
    public bool RunsOutsideTransaction => Name.EndsWith(".notx.sql", StringComparison.OrdinalIgnoreCase);

    public string Path => $"{Folder}/{Name}";

    public override string ToString() => Path;
}
