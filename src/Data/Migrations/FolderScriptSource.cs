namespace Jobsd.Data.Migrations;

/// <summary>Scripts read from a <c>db/</c>-shaped folder (<c>jobsd migrate --scripts DIR</c>).</summary>
public sealed class FolderScriptSource(string root) : IScriptSource
{
    public string Description => $"scripts in {root}";

    public IReadOnlyList<MigrationScript> Load()
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Migration scripts folder '{root}' does not exist.");
        }
        var scripts = new List<MigrationScript>();
        foreach (var (folder, _) in ScriptFolders.InRunOrder)
        {
            var path = System.IO.Path.Combine(root, folder);
            if (!Directory.Exists(path)) continue;
            foreach (var file in Directory.EnumerateFiles(path, "*.sql", SearchOption.TopDirectoryOnly))
            {
                scripts.Add(new MigrationScript(folder, System.IO.Path.GetFileName(file), File.ReadAllText(file)));
            }
        }
        return ScriptOrdering.InRunOrder(scripts);
    }
}
