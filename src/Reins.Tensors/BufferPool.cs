using System.Runtime.CompilerServices;

namespace Reins.Tensors;

/// <summary>
/// Exact-length pool of pinned float buffers. A training step allocates the same sizes every time,
/// so after the first step every activation and gradient buffer comes from here and nothing is allocated.
/// </summary>
public static class BufferPool
{
    // Exact lengths rather than power-of-two buckets: rounding up would cost up to 2x memory, and the
    // set of distinct sizes in a model is small.
    private static readonly Dictionary<int, Stack<float[]>> Free = new();
    private static readonly Lock Gate = new();
    private static long pooledFloats;

    /// <summary>Floats currently held idle in the pool.</summary>
    public static long PooledFloats => Interlocked.Read(ref pooledFloats);

    /// <summary>A buffer of exactly <paramref name="length"/> floats with undefined contents.</summary>
    public static float[] Rent(int length)
    {
        if (length == 0) return [];
        lock (Gate)
        {
            if (Free.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                pooledFloats -= length;
                return stack.Pop();
            }
        }
        // Pinned so kernels can take raw pointers without `fixed` and hand them to worker threads.
        return GC.AllocateUninitializedArray<float>(length, pinned: true);
    }

    /// <summary>A zero-filled buffer.</summary>
    public static float[] RentZeroed(int length)
    {
        var a = Rent(length);
        Array.Clear(a);
        return a;
    }

    /// <summary>Gives a buffer back; the caller must not touch it afterwards.</summary>
    public static void Return(float[] buffer)
    {
        if (buffer.Length == 0) return;
        lock (Gate)
        {
            if (!Free.TryGetValue(buffer.Length, out var stack)) Free[buffer.Length] = stack = new Stack<float[]>();
            stack.Push(buffer);
            pooledFloats += buffer.Length;
        }
    }

    /// <summary>Drops every idle buffer so the GC can reclaim it (e.g. between phases that use different sizes).</summary>
    public static void Trim()
    {
        lock (Gate)
        {
            Free.Clear();
            pooledFloats = 0;
        }
    }

    internal static unsafe float* Pointer(float[] pinned, int offset) =>
        (float*)Unsafe.AsPointer(ref pinned[offset]);
}
