namespace Jobsd.Data.Migrations;

/// <summary>How often a script runs, decided by the roundhouse folder it lives in.</summary>
public enum ScriptKind
{
    /// <summary><c>db/up</c>: runs once; changing it afterwards is an error.</summary>
    OneTime,

    /// <summary><c>db/functions</c>, <c>db/views</c>: re-runs whenever its text changes.</summary>
    AnyTime,

    /// <summary><c>db/permissions</c>: runs on every migration.</summary>
    EveryTime,
}
