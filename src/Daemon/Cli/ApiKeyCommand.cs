using System.CommandLine;
using System.Text.RegularExpressions;
using Jobsd.Daemon.Api;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd api-key create NAME</c>: a new bearer key for the HTTP API and the line that configures it.</summary>
public static partial class ApiKeyCommand
{
    private static readonly Argument<string> Name = new("name") { Description = "Who the key is for (letters, digits, '_')" };

    public static Command Create()
    {
        var create = new Command("create", "Print a new API key (shown once) and the configuration that accepts it") { Name };
        create.SetAction(parse =>
        {
            var name = parse.GetValue(Name)!;
            if (!NamePattern().IsMatch(name))
            {
                Console.Error.WriteLine($"jobsd: api-key create: '{name}' is not a key name (letters, digits, '_'; at most 64: it becomes part of an environment variable name)");
                return 2;
            }
            var (key, hash) = ApiKeys.Create();
            Console.WriteLine($"key:  {key}");
            Console.WriteLine("Give the key to the caller (it is not stored anywhere); configure only its hash:");
            Console.WriteLine($"  appsettings.json: \"Api\": {{ \"Keys\": {{ \"{name}\": {{ \"Hash\": \"{hash}\" }} }} }}");
            Console.WriteLine($"  environment:      JOBSD_Api__Keys__{name}__Hash={hash}");
            return 0;
        });
        return new Command("api-key", "Keys for the HTTP API") { create };
    }

    [GeneratedRegex("^[A-Za-z0-9_]{1,64}$")]
    private static partial Regex NamePattern();
}
