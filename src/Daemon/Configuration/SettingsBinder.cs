using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Jobsd.Daemon.Configuration;

/// <summary>
/// Binds one configuration section to an options class, collecting every problem instead of
/// stopping at the first: a value that does not convert names its key and the expected type,
/// and a misspelt key names the setting it probably meant.
/// </summary>
public static class SettingsBinder
{
    public static T Bind<T>(IConfiguration configuration, string section, List<string> problems, params string[] filledElsewhere) where T : new()
    {
        var options = new T();
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && !filledElsewhere.Contains(p.Name))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in configuration.GetSection(section).GetChildren())
        {
            var key = $"{section}:{child.Key}";
            if (!properties.TryGetValue(child.Key, out var property))
            {
                problems.Add($"{key}: unknown setting{Suggest(child.Key, properties.Keys)}");
                continue;
            }
            try
            {
                var value = property.PropertyType == typeof(string[]) && configuration is IConfigurationRoot root
                    ? FromOneSource(root, key)
                    : child.Get(property.PropertyType, o => o.ErrorOnUnknownConfiguration = true);
                if (value is not null) property.SetValue(options, value);
                else if (child.Value is { Length: > 0 }) problems.Add($"{key}: '{child.Value}' is not a valid {Describe(property.PropertyType)}");
            }
            catch (InvalidOperationException)
            {
                problems.Add($"{key}: '{Shown(child, property)}' is not a valid {Describe(property.PropertyType)}");
            }
        }
        return options;
    }

    /// <summary>
    /// An array comes whole from the last source that sets it. The configuration system merges
    /// arrays by index, so an operator's two-element Builds:Command over the shipped ten-element
    /// default would keep the default's last eight elements — a command nobody wrote.
    /// </summary>
    private static string[]? FromOneSource(IConfigurationRoot root, string key)
    {
        foreach (var provider in root.Providers.Reverse())
        {
            var indexes = provider.GetChildKeys([], key).Distinct().ToList();
            if (indexes.Count == 0)
            {
                // "[]" in JSON is the key with no value: an explicit empty array.
                if (provider.TryGet(key, out var scalar)) return scalar is { Length: > 0 } ? null : [];
                continue;
            }
            var values = new List<string>();
            foreach (var index in indexes.Select(i => int.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1).Order())
            {
                if (index < 0) throw new InvalidOperationException($"{key}: an array takes elements 0, 1, 2 …");
                values.Add(provider.TryGet($"{key}:{index}", out var v) ? v ?? "" : "");
            }
            return [.. values];
        }
        return [];
    }

    /// <summary>" (did you mean 'X'?)" for the closest known name within a small edit distance, else "".</summary>
    public static string Suggest(string given, IEnumerable<string> known)
    {
        var best = known
            .Select(k => (Name: k, Distance: EditDistance(given.ToLowerInvariant(), k.ToLowerInvariant())))
            .OrderBy(x => x.Distance)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, given.Length / 3) ? $" (did you mean '{best.Name}'?)" : "";
    }

    private static string Shown(IConfigurationSection child, PropertyInfo property) =>
        IsSecret(property.Name) ? "***" : child.Value ?? "(section)";

    internal static bool IsSecret(string name) =>
        name.EndsWith("Password", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("Secret", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("Token", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("ApiKey", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("ApiKeys", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("EncryptionKey", StringComparison.OrdinalIgnoreCase);

    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(TimeSpan)) return "duration (hh:mm:ss, e.g. 00:00:30)";
        if (type == typeof(bool)) return "boolean (true or false)";
        if (type == typeof(int) || type == typeof(long)) return "whole number";
        if (type.IsEnum) return $"value (one of: {string.Join(", ", Enum.GetNames(type).Select(n => n.ToLower(CultureInfo.InvariantCulture)))})";
        return type.Name;
    }

    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            }
        }
        return d[a.Length, b.Length];
    }
}
