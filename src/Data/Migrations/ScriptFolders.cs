namespace Jobsd.Data.Migrations;

/// <summary>
/// The roundhouse folders jobsd knows, in the order they run. One-time schema changes
/// come first so that functions and views can refer to the tables they create; every-time
/// scripts come last so they see the finished schema.
/// </summary>
public static class ScriptFolders
{
    public static readonly IReadOnlyList<(string Folder, ScriptKind Kind)> InRunOrder =
    [
        ("up", ScriptKind.OneTime),
        ("functions", ScriptKind.AnyTime),
        ("views", ScriptKind.AnyTime),
        ("permissions", ScriptKind.EveryTime),
    ];

    public static ScriptKind? KindOf(string folder) =>
        InRunOrder.FirstOrDefault(f => f.Folder == folder) is { Folder: not null } match ? match.Kind : null;

    public static int OrderOf(string folder)
    {
        for (var i = 0; i < InRunOrder.Count; i++)
        {
            if (InRunOrder[i].Folder == folder) return i;
        }
        return int.MaxValue;
    }
}
