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

    /// <summary>
    /// For args written in configuration, where every value is a string: numbers and booleans
    /// may come quoted. Everything else is as strict as <see cref="Options"/>.
    /// </summary>
    private static readonly JsonSerializerOptions FromConfiguration = new(Options)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Converters = { new QuotedBooleanConverter() },
    };

    public static string Serialize<TArgs>(TArgs args) => JsonSerializer.Serialize(args, Options);

    /// <summary>
    /// Binds <paramref name="json"/> to <paramref name="type"/> and writes it back in canonical
    /// form, so what is stored is exactly what the handler will read. Throws <see cref="JobArgsException"/>.
    /// </summary>
    public static string Canonicalize(string json, Type type, string kind, bool fromConfiguration)
    {
        var value = Bind(json, type, kind, fromConfiguration ? FromConfiguration : Options);
        return JsonSerializer.Serialize(value, type, Options);
    }

    /// <summary>Binds args or throws <see cref="JobArgsException"/> naming the kind and the field.</summary>
    public static object Deserialize(string json, Type type, string kind) => Bind(json, type, kind, Options);

    private static object Bind(string json, Type type, string kind, JsonSerializerOptions options)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type, options)
                ?? throw new JobArgsException($"args of kind '{kind}' are null");
        }
        catch (JsonException e)
        {
            throw new JobArgsException($"args of kind '{kind}' do not bind to {type.Name}: {e.Message}", e);
        }
    }
}

/// <summary>Reads true/false also from the strings "true"/"false" (configuration values).</summary>
internal sealed class QuotedBooleanConverter : JsonConverter<bool>
{
    public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.String when bool.TryParse(reader.GetString(), out var b) => b,
        _ => throw new JsonException($"expected true or false, got {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
}

/// <summary>Args that cannot bind to the handler's type: never retried.</summary>
public sealed class JobArgsException(string message, Exception? inner = null) : JobPermanentException(message, inner);
