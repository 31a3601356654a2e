using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jobsd.Queue;

/// <summary>
/// How args are written and read: snake_case names, unknown fields refused, required
/// constructor parameters and non-nullable references enforced. A payload that does not bind
/// fails with a message naming the field (JSON path), and is a permanent error.
/// </summary>
public static class JobArgsJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        NumberHandling = JsonNumberHandling.Strict,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string Serialize<TArgs>(TArgs args) => JsonSerializer.Serialize(args, Options);

    /// <summary>Binds args or throws <see cref="JobArgsException"/> naming the kind and the field.</summary>
    public static object Deserialize(string json, Type type, string kind)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type, Options)
                ?? throw new JobArgsException($"args of kind '{kind}' are null");
        }
        catch (JsonException e)
        {
            throw new JobArgsException($"args of kind '{kind}' do not bind to {type.Name}: {e.Message}", e);
        }
    }
}

/// <summary>Args that cannot bind to the handler's type: never retried.</summary>
public sealed class JobArgsException(string message, Exception? inner = null) : JobPermanentException(message, inner);
