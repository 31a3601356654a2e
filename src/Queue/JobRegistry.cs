namespace Jobsd.Queue;

/// <summary>One registered kind: its handler, its args type and its options.</summary>
public sealed record JobRegistration(string Kind, Type ArgsType, Type HandlerType, JobKindOptions Options,
    Func<IServiceProvider, object, JobContext, CancellationToken, Task> Invoke);

/// <summary>The kinds this node can run. Filled by <c>AddJob</c>; read by executors and recorded in <c>queue.kinds</c>.</summary>
public sealed class JobRegistry
{
    private readonly Dictionary<string, JobRegistration> _kinds = new(StringComparer.Ordinal);

    public IReadOnlyCollection<JobRegistration> All => _kinds.Values;

    public bool TryGet(string kind, out JobRegistration registration) => _kinds.TryGetValue(kind, out registration!);

    public void Add<THandler, TArgs>(JobKindOptions options)
        where THandler : class, IJob<TArgs>
        where TArgs : IJobArgs
    {
        var kind = TArgs.Kind;
        if (string.IsNullOrWhiteSpace(kind)) throw new ArgumentException($"{typeof(TArgs).Name}.Kind is empty");
        if (_kinds.TryGetValue(kind, out var existing))
        {
            throw new InvalidOperationException($"kind '{kind}' is registered twice ({existing.HandlerType.Name} and {typeof(THandler).Name})");
        }
        _kinds[kind] = new JobRegistration(kind, typeof(TArgs), typeof(THandler), options,
            (services, args, context, ct) => ((THandler)services.GetService(typeof(THandler))!).ExecuteAsync((TArgs)args, context, ct));
    }

    public IReadOnlyCollection<string> Queues => _kinds.Values.Select(k => k.Options.Queue).Distinct().ToList();
}
