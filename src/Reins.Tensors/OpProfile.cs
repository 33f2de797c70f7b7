using System.Diagnostics;

namespace Reins.Tensors;

/// <summary>
/// Per-op wall time, forward and backward, collected by the tape while <see cref="Tape.Profile"/> is set.
/// Forward time is the time since the previous op finished, so glue code between ops is charged to the next op.
/// </summary>
public sealed class OpProfile
{
    private readonly Dictionary<string, (double Forward, double Backward, long Calls)> ops = new();
    private long last = Stopwatch.GetTimestamp();

    internal void Forward(string op)
    {
        long now = Stopwatch.GetTimestamp();
        var e = ops.GetValueOrDefault(op);
        ops[op] = (e.Forward + Stopwatch.GetElapsedTime(last, now).TotalSeconds, e.Backward, e.Calls + 1);
        last = now;
    }

    internal void Backward(string op, long start)
    {
        var e = ops.GetValueOrDefault(op);
        ops[op] = (e.Forward, e.Backward + Stopwatch.GetElapsedTime(start).TotalSeconds, e.Calls);
        last = Stopwatch.GetTimestamp();
    }

    /// <summary>Marks the start of a region so the next op is not charged for unrelated work before it.</summary>
    public void Restart() => last = Stopwatch.GetTimestamp();

    /// <summary>Rows (op, forward seconds, backward seconds, calls), most expensive first.</summary>
    public IEnumerable<(string Op, double Forward, double Backward, long Calls)> Rows() =>
        ops.Select(kv => (kv.Key, kv.Value.Forward, kv.Value.Backward, kv.Value.Calls)).OrderByDescending(r => r.Item2 + r.Item3);
}
