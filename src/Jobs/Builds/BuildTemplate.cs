using System.Text;

namespace Jobsd.Jobs.Builds;

/// <summary>
/// Placeholder templates (<c>{name}</c>, <c>{{</c> and <c>}}</c> for literal braces) for the
/// build command, image tag, artifact URL and variables. Checked at start-up, so a typo stops
/// the daemon (exit 78) instead of failing every build. Expansion happens inside one argv
/// element: a value can never become another argument, and an argument that begins with a
/// placeholder may not expand to something that looks like an option.
/// </summary>
public static class BuildTemplate
{
    public static readonly IReadOnlyList<string> Placeholders =
    [
        "build_job_id", "workflow_run_id", "environment_id", "project_id", "team_id",
        "name", "architecture", "platform", "context_path", "dockerfile_path", "image_tag",
        "project_name", "repo_url", "branch", "commit_sha", "commit_hash", "pr_number", "subdomain_hash",
        "workspace", "source", "node", "attempt",
    ];

    /// <summary>Null when the template is well formed and names only known placeholders; otherwise what is wrong.</summary>
    public static string? Check(string template)
    {
        try
        {
            Expand(template, name => Placeholders.Contains(name) ? "" : null);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>Expands a template; <paramref name="value"/> returns null for a name it does not know.</summary>
    public static string Expand(string template, Func<string, string?> value)
    {
        var sb = new StringBuilder(template.Length + 32);
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '{' && i + 1 < template.Length && template[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < template.Length && template[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c == '}') throw new FormatException($"'{template}': unmatched '}}' at {i} (write '}}}}' for a literal brace)");
            if (c != '{') { sb.Append(c); continue; }
            var end = template.IndexOf('}', i + 1);
            if (end < 0) throw new FormatException($"'{template}': unclosed '{{' at {i} (write '{{{{' for a literal brace)");
            var name = template[(i + 1)..end];
            sb.Append(value(name) ?? throw new FormatException(
                $"'{template}': unknown placeholder {{{name}}} (known: {string.Join(", ", Placeholders.Select(p => "{" + p + "}"))})"));
            i = end;
        }
        return sb.ToString();
    }

    /// <summary>
    /// Expands one argv element. A build job's fields come from other systems: if the element
    /// starts with a placeholder and the value starts with '-', the program would read it as an
    /// option (<c>-t --output=/etc</c>), so it is refused.
    /// </summary>
    public static string ExpandArgument(string template, IReadOnlyDictionary<string, string> values)
    {
        var expanded = Expand(template, name => values.GetValueOrDefault(name));
        if (template.StartsWith('{') && !template.StartsWith("{{", StringComparison.Ordinal) && expanded.StartsWith('-'))
        {
            throw new BuildInputException($"argument '{template}' would expand to '{expanded}', which starts with '-' and would be read as an option");
        }
        return expanded;
    }
}

/// <summary>A build job whose own fields make it unbuildable: the build fails, no retry.</summary>
public sealed class BuildInputException(string message) : Exception(message);
