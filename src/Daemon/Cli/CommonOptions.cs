using System.CommandLine;

namespace Jobsd.Daemon.Cli;

/// <summary>Options every verb understands.</summary>
public static class CommonOptions
{
    public static readonly Option<string?> Config = new("--config")
    {
        Description = "Configuration file read instead of /etc/jobsd/appsettings.json",
        Recursive = true,
    };

    public static readonly Option<string?> Scripts = new("--scripts")
    {
        Description = "Read migration scripts from this db/-shaped folder instead of the embedded ones",
        Recursive = true,
    };

    /// <summary>Settings given on the command line win over every file and variable.</summary>
    public static Dictionary<string, string?> Overrides(ParseResult parse)
    {
        var overrides = new Dictionary<string, string?>();
        if (parse.GetValue(Scripts) is { } scripts) overrides["Database:ScriptsPath"] = Path.GetFullPath(scripts);
        return overrides;
    }
}
