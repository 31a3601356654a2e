namespace Jobsd.Data.Migrations;

/// <summary>Where migration scripts come from: the binary itself, or a folder on disk.</summary>
public interface IScriptSource
{
    /// <summary>A description for logs and error messages.</summary>
    string Description { get; }

    /// <summary>All scripts, in run order: by folder order, then by name (ordinal).</summary>
    IReadOnlyList<MigrationScript> Load();
}

internal static class ScriptOrdering
{
    public static IReadOnlyList<MigrationScript> InRunOrder(IEnumerable<MigrationScript> scripts) =>
        scripts.OrderBy(s => ScriptFolders.OrderOf(s.Folder))
            .ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
}
