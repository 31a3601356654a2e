using System.Net;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;

namespace Jobsd.Daemon.Dashboard;

/// <summary>
/// Maps the dashboard under <see cref="DashboardSettings.Prefix"/>: GET pages (server-rendered
/// HTML) and POST actions (antiforgery-checked, answered with a redirect and a flash message).
/// Every request passes <see cref="GuardAsync"/>: access mode, read-only, security headers.
/// </summary>
public static class DashboardEndpoints
{
    private const string FlashCookie = "jobsd_flash";

    public static void MapJobsdDashboard(this WebApplication app, DashboardSettings settings)
    {
        var prefix = settings.Prefix;
        var group = app.MapGroup(prefix.Length == 0 ? "/" : prefix).AddEndpointFilter(GuardAsync);
        group.MapGet("/assets/dashboard.css", () => Results.Text(DashboardAssets.Css, "text/css; charset=utf-8"));
        group.MapGet("/assets/dashboard.js", () => Results.Text(DashboardAssets.Js, "text/javascript; charset=utf-8"));
        DashboardPages.Map(group);
        BuildLogPages.Map(group);
        ConnectorPages.Map(group);
        DashboardActions.Map(group);
    }

    private static async ValueTask<object?> GuardAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var settings = http.RequestServices.GetRequiredService<DashboardSettings>();
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "same-origin";
        headers.CacheControl = "no-store";

        switch (settings.Access)
        {
            case DashboardAccess.Local when !IsLoopback(http.Connection.RemoteIpAddress):
                return Results.Text("The dashboard answers only on loopback (Dashboard:Access is local). Use an SSH tunnel, or set Dashboard:Access to basic.",
                    statusCode: StatusCodes.Status403Forbidden);
            case DashboardAccess.Basic when !BasicAuthenticated(http, settings):
                headers.WWWAuthenticate = "Basic realm=\"jobsd\", charset=\"UTF-8\"";
                return Results.Text("Sign in to the jobsd dashboard.", statusCode: StatusCodes.Status401Unauthorized);
        }
        if (HttpMethods.IsPost(http.Request.Method))
        {
            if (settings.ReadOnly) return Results.Text("The dashboard is read-only (Dashboard:ReadOnly).", statusCode: StatusCodes.Status403Forbidden);
            try
            {
                await http.RequestServices.GetRequiredService<IAntiforgery>().ValidateRequestAsync(http);
            }
            catch (AntiforgeryValidationException)
            {
                return Results.Text("This form is stale or did not come from the dashboard (antiforgery check failed). Reload the page and try again.",
                    statusCode: StatusCodes.Status400BadRequest);
            }
        }
        return await next(context);
    }

    private static bool IsLoopback(IPAddress? address) => address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    private static bool BasicAuthenticated(HttpContext http, DashboardSettings settings)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }
        var colon = decoded.IndexOf(':');
        if (colon < 0) return false;
        var userOk = System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(decoded[..colon]), Encoding.UTF8.GetBytes(settings.Username ?? ""));
        // The hash is checked even for a wrong user name, so timing does not tell which was wrong.
        var passwordOk = DashboardPassword.Verify(decoded[(colon + 1)..], settings.PasswordHash ?? "");
        return userOk && passwordOk;
    }

    /// <summary>The request's page context: prefix, read-only, a fresh antiforgery field, and the flash message (consumed).</summary>
    internal static PageContext Page(HttpContext http)
    {
        var settings = http.RequestServices.GetRequiredService<DashboardSettings>();
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        var field = $"<input type=\"hidden\" name=\"{Html.E(tokens.FormFieldName)}\" value=\"{Html.E(tokens.RequestToken)}\">";
        string? flash = null;
        if (http.Request.Cookies.TryGetValue(FlashCookie, out var message))
        {
            flash = message;
            http.Response.Cookies.Delete(FlashCookie, new CookieOptions { Path = CookiePath(http) });
        }
        return new PageContext(http.Request.PathBase + settings.Prefix, settings.ReadOnly, field, flash);
    }

    /// <summary>After an action: a redirect (303) to <paramref name="to"/> with a one-time flash message.</summary>
    internal static IResult Done(HttpContext http, string to, string message)
    {
        http.Response.Cookies.Append(FlashCookie, message, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Path = CookiePath(http), Secure = http.Request.IsHttps, MaxAge = TimeSpan.FromMinutes(1),
        });
        var settings = http.RequestServices.GetRequiredService<DashboardSettings>();
        return new SeeOther(http.Request.PathBase + settings.Prefix + to);
    }

    private static string CookiePath(HttpContext http)
    {
        var prefix = http.Request.PathBase + http.RequestServices.GetRequiredService<DashboardSettings>().Prefix;
        return prefix.Length == 0 ? "/" : prefix.ToString();
    }

    /// <summary>303 See Other: the browser follows with a GET, so a reload never repeats the POST.</summary>
    private sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }

    internal static IResult HtmlPage(string html, int status = 200) => Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
}
