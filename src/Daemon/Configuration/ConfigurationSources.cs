using Microsoft.Extensions.Configuration;

namespace Jobsd.Daemon.Configuration;

/// <summary>
/// Builds jobsd's configuration in its documented order, later sources winning:
/// <c>appsettings.json</c> beside the binary, <c>/etc/jobsd/appsettings.json</c> (or <c>--config</c>),
/// <c>JOBSD_</c> environment variables, then systemd credentials (one file per key).
/// </summary>
public static class ConfigurationSources
{
    public const string DefaultSystemConfig = "/etc/jobsd/appsettings.json";
    public const string EnvironmentPrefix = "JOBSD_";

    /// <summary>The files that were read, for <c>jobsd check</c> and the start-up log.</summary>
    public sealed record Loaded(IConfigurationRoot Configuration, IReadOnlyList<string> Files);

    public static Loaded Build(string? configPath, IDictionary<string, string?>? overrides = null)
    {
        var files = new List<string>();
        var builder = new ConfigurationBuilder();
        var beside = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        AddJson(builder, files, beside, optional: true);
        if (configPath is not null)
        {
            if (!File.Exists(configPath)) throw new ConfigurationException([$"--config: file '{configPath}' does not exist"]);
            AddJson(builder, files, Path.GetFullPath(configPath), optional: false);
        }
        else
        {
            AddJson(builder, files, DefaultSystemConfig, optional: true);
        }
        builder.AddEnvironmentVariables(EnvironmentPrefix);
        // systemd's LoadCredential= puts one file per secret here, named like a key (Database__Password).
        var credentials = Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY");
        if (!string.IsNullOrEmpty(credentials) && Directory.Exists(credentials))
        {
            builder.AddKeyPerFile(credentials, optional: true);
            files.Add(credentials + "/*");
        }
        if (overrides is not null) builder.AddInMemoryCollection(overrides);
        try
        {
            return new Loaded(builder.Build(), files);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            throw new ConfigurationException([$"{DescribeFailure(e, files)}: {FirstLine(e)}"]);
        }
    }

    private static void AddJson(ConfigurationBuilder builder, List<string> files, string path, bool optional)
    {
        if (!File.Exists(path) && optional) return;
        builder.AddJsonFile(path, optional, reloadOnChange: false);
        files.Add(path);
    }

    private static string DescribeFailure(Exception e, List<string> files)
    {
        // The JSON provider names the file in its message; when it does not, say which files were read.
        var named = files.FirstOrDefault(f => e.Message.Contains(f, StringComparison.Ordinal) || (e.InnerException?.Message.Contains(f, StringComparison.Ordinal) ?? false));
        return named ?? $"configuration ({string.Join(", ", files)})";
    }

    private static string FirstLine(Exception e)
    {
        var messages = new List<string>();
        for (var x = e; x is not null; x = x.InnerException) messages.Add(x.Message.Split('\n')[0].Trim());
        return string.Join(" ", messages.Distinct());
    }
}
