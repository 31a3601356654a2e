namespace Jobsd.Queue;

/// <summary>Thrown by a handler when retrying cannot help: the job fails at once, attempts left or not.</summary>
public class JobPermanentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Thrown by a handler to run again after <see cref="Delay"/> without consuming an attempt or recording an error.</summary>
public sealed class JobSnoozeException(TimeSpan delay) : Exception($"snoozed for {delay}")
{
    public TimeSpan Delay { get; } = delay;
}
