namespace Jobsd.Queue.Recurring;

/// <summary>
/// The recurring jobs this node defines, from code (<c>AddRecurring</c>) and configuration.
/// Validated once at start-up against the kinds this node runs; the synchroniser writes them
/// to queue.recurring.
/// </summary>
public sealed class RecurringCatalog
{
    private readonly List<RecurringDefinition> _definitions = [];

    public IReadOnlyList<RecurringDefinition> All => _definitions;

    public void Add(RecurringDefinition definition)
    {
        if (_definitions.Any(d => string.Equals(d.Name, definition.Name, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"recurring job '{definition.Name}' is defined twice");
        }
        _definitions.Add(definition);
    }

    /// <summary>
    /// Checks every definition (schedule, zone, kind, args) and stores configuration-written
    /// args in canonical form; returns one message per problem, each naming the job.
    /// </summary>
    public IReadOnlyList<string> Validate(JobRegistry registry)
    {
        var problems = new List<string>();
        for (var i = 0; i < _definitions.Count; i++)
        {
            var definition = _definitions[i];
            problems.AddRange(definition.Validate(registry, definition.Source == RecurringSource.Config, out var canonical));
            _definitions[i] = definition with { ArgsJson = canonical };
        }
        return problems;
    }
}
