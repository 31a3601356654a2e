using Jobsd.Queue;
using Microsoft.Extensions.DependencyInjection;

namespace Jobsd.Jobs.Tokens;

public static class TokenServiceCollectionExtensions
{
    /// <summary>Token refresh: the recurring finder (queue maintenance), token.refresh (queue tokens) and secrets.reencrypt.</summary>
    public static IServiceCollection AddJobsdTokens(this IServiceCollection services, TokenRefreshSettings settings, EncryptionSettings encryption)
    {
        services.AddSingleton(settings);
        services.AddSingleton(new SecretBox(encryption));
        services.AddSingleton<CredentialStore>();
        services.AddSingleton(_ => new TokenEndpointClient(new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false, // a redirect would carry the credentials somewhere else
        })
        {
            Timeout = Timeout.InfiniteTimeSpan, // each request has its own (TokenRefresh:HttpTimeout)
        }, settings));
        services.AddJob<TokenRefreshFinderJob, TokenRefreshFinderArgs>(o =>
        {
            o.Queue = MaintenanceSchedule.Queue;
            o.Timeout = TimeSpan.FromMinutes(5);
            o.MaxAttempts = 3;
        });
        services.AddJob<TokenRefreshJob, TokenRefreshArgs>(o =>
        {
            o.Queue = TokenRefreshSettings.Queue;
            o.Timeout = settings.HttpTimeout + TimeSpan.FromMinutes(1);
            o.MaxAttempts = 5;
        });
        services.AddJob<SecretsReencryptJob, SecretsReencryptArgs>(o =>
        {
            o.Queue = MaintenanceSchedule.Queue;
            o.Timeout = TimeSpan.FromHours(1);
            o.MaxAttempts = 3;
        });
        services.AddMaintenanceRecurring(settings.Cron, new TokenRefreshFinderArgs());
        return services;
    }
}
