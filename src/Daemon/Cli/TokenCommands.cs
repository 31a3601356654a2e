using System.CommandLine;
using Jobsd.Daemon.Api;
using Jobsd.Jobs.Tokens;

namespace Jobsd.Daemon.Cli;

/// <summary>
/// <c>jobsd keys generate</c>, <c>jobsd credentials put|list</c>, <c>jobsd secrets reencrypt</c>:
/// keys for secrets at rest and the credentials they protect. A secret option given as <c>-</c>
/// is read from standard input (one line each, in option order), so it stays out of shell history.
/// </summary>
public static class TokenCommands
{
    public static Command Keys()
    {
        var generate = new Command("generate", "Print a new 32-byte key (base64) and how to configure it");
        generate.SetAction(_ =>
        {
            var id = "k" + DateTime.UtcNow.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
            Console.WriteLine($"key:  {SecretBox.GenerateKey()}");
            Console.WriteLine("Keep it secret, outside the database; configure it and make it current:");
            Console.WriteLine($"  systemd credential file: Encryption__Keys__{id}  (LoadCredential=), and JOBSD_Encryption__CurrentKeyId={id}");
            Console.WriteLine("After rotating (a new key made current, the old one kept to decrypt), run 'jobsd secrets reencrypt'.");
            return 0;
        });
        return new Command("keys", "Encryption keys for secrets at rest") { generate };
    }

    private static readonly Option<string> Team = new("--team") { Description = "The team (id or name)", Required = true };
    private static readonly Option<string> Connector = new("--connector") { Description = "The connector's name (created when new)", Required = true };
    private static readonly Option<string> Provider = new("--provider") { Description = "The connector's provider (default: oauth2)" };
    private static readonly Option<string> TokenEndpoint = new("--token-endpoint") { Description = "The OAuth token endpoint (https)", Required = true };
    private static readonly Option<string> ClientId = new("--client-id") { Description = "The OAuth client id", Required = true };
    private static readonly Option<string> ClientSecret = new("--client-secret") { Description = "The client secret, or - to read it from standard input" };
    private static readonly Option<string> RefreshToken = new("--refresh-token") { Description = "The refresh token, or - to read it from standard input", Required = true };
    private static readonly Option<string> AccessToken = new("--access-token") { Description = "A current access token, or - for standard input" };
    private static readonly Option<string> ExpiresAt = new("--expires-at") { Description = "When the access token expires (ISO 8601 with offset)" };
    private static readonly Option<string> ClientAuth = new("--client-auth") { Description = "basic (default) or post" };
    private static readonly Option<string> Scope = new("--scope") { Description = "Scope to request on refresh" };

    public static Command Credentials()
    {
        var put = new Command("put", "Store (create or replace) a connector's OAuth credential, encrypted")
        {
            Team, Connector, Provider, TokenEndpoint, ClientId, ClientSecret, RefreshToken, AccessToken, ExpiresAt, ClientAuth, Scope,
        };
        put.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            string? Secret(Option<string> option) => parse.GetValue(option) is "-" ? Console.In.ReadLine()?.TrimEnd('\r') : parse.GetValue(option);
            var clientSecret = Secret(ClientSecret);
            var refreshToken = Secret(RefreshToken);
            var accessToken = Secret(AccessToken);
            var (input, _, error) = CredentialInputs.Validate(parse.GetValue(Team), parse.GetValue(Connector), parse.GetValue(Provider), parse.GetValue(TokenEndpoint),
                parse.GetValue(ClientId), clientSecret, refreshToken, accessToken, parse.GetValue(ExpiresAt), parse.GetValue(ClientAuth), parse.GetValue(Scope),
                cli.Settings.TokenRefresh);
            if (input is null)
            {
                await Console.Error.WriteLineAsync($"jobsd: credentials put: {error}");
                return 2;
            }
            var box = new SecretBox(cli.Settings.Encryption);
            if (!box.CanEncrypt)
            {
                await Console.Error.WriteLineAsync("jobsd: credentials put: no encryption key is configured (Encryption:Keys, Encryption:CurrentKeyId); see 'jobsd keys generate'");
                return 78;
            }
            try
            {
                var (credential, connector, created) = await new CredentialStore(cli.DataSource, box, cli.Settings.TokenRefresh).PutAsync(input, "cli:" + Environment.UserName, ct);
                Console.WriteLine($"{(created ? "created" : "replaced")} credential {credential} of connector {input.Connector} ({connector})");
                return 0;
            }
            catch (ArgumentException e) when (e.ParamName == "team")
            {
                await Console.Error.WriteLineAsync($"jobsd: credentials put: {e.Message.Split(" (Parameter")[0]}");
                return 2;
            }
        }));
        var list = new Command("list", "Credentials with status, expiry, failures and last error (never a secret)");
        list.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var box = new SecretBox(cli.Settings.Encryption);
            foreach (var c in await new CredentialStore(cli.DataSource, box, cli.Settings.TokenRefresh).ListAsync(ct))
            {
                Console.WriteLine($"{c.Id}  {c.Team}/{c.Connector}  {c.Status}  expires {c.ExpiresAt?.ToString("O") ?? "-"}  failures {c.FailureCount}{(c.LastError is null ? "" : "  " + c.LastError)}");
            }
            return 0;
        }));
        return new Command("credentials", "Connectors' OAuth credentials") { put, list };
    }

    public static Command Secrets()
    {
        var reencrypt = new Command("reencrypt", "Move every stored secret to Encryption:CurrentKeyId now");
        reencrypt.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var store = new CredentialStore(cli.DataSource, new SecretBox(cli.Settings.Encryption), cli.Settings.TokenRefresh);
            var total = 0;
            try
            {
                for (int n; (n = await store.ReencryptBatchAsync(ct)) > 0;) total += n;
            }
            catch (SecretUnreadableException e)
            {
                await Console.Error.WriteLineAsync($"jobsd: secrets reencrypt: stopped after {total} credentials: {e.Message}");
                return 1;
            }
            Console.WriteLine($"re-encrypted {total} credentials with key {cli.Settings.Encryption.CurrentKeyId}");
            return 0;
        }));
        return new Command("secrets", "Secrets at rest") { reencrypt };
    }
}
