namespace Jobsd.Data.Tests;

/// <summary>A temporary <c>db/</c>-shaped folder a test writes scripts into.</summary>
internal sealed class ScriptFolder : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("jobsd-db-").FullName;

    public ScriptFolder Write(string path, string sql)
    {
        var full = Path.Combine(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, sql);
        return this;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
