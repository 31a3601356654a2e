using System.Reflection;

namespace Jobsd.Data.Migrations;

/// <summary>The <c>db/</c> tree compiled into this assembly (resource names <c>db/{folder}/{name}</c>).</summary>
public sealed class EmbeddedScriptSource : IScriptSource
{
    private readonly Assembly _assembly = typeof(EmbeddedScriptSource).Assembly;

    public string Description => "scripts embedded in the binary";

    public IReadOnlyList<MigrationScript> Load()
    {
        var scripts = new List<MigrationScript>();
        foreach (var resource in _assembly.GetManifestResourceNames())
        {
            var parts = resource.Split('/');
            if (parts.Length != 3 || parts[0] != "db" || ScriptFolders.KindOf(parts[1]) is null) continue;
            using var stream = _assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add(new MigrationScript(parts[1], parts[2], reader.ReadToEnd()));
        }
        return ScriptOrdering.InRunOrder(scripts);
    }
}
