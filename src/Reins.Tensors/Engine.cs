namespace Reins.Tensors;

/// <summary>Process-wide engine settings.</summary>
public static class Engine
{
    private static int threads = DefaultThreads();
    private static readonly WorkerPool Pool = new();

    /// <summary>
    /// Worker threads kernels may use. The default is every logical processor: on the reference machine
    /// (2 vCPUs) BENCHMARKS.md records 1.6-2.0x from the second thread in GEMM and training. Results do not
    /// depend on it (every kernel splits work so each output element is computed by one thread in a fixed
    /// order). Under mpirun, the cores are shared among the ranks on the machine. Override with REINS_THREADS or <c>--threads</c>.
    /// </summary>
    public static int Threads
    {
        get => threads;
        set => threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be at least 1.");
    }

    private static int DefaultThreads()
    {
        var env = Environment.GetEnvironmentVariable("REINS_THREADS");
        if (env is not null && int.TryParse(env, out var t) && t >= 1) return t;
        // Under mpirun the ranks on one machine share its cores.
        int local = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out var l) && l >= 1 ? l : 1;
        return Math.Max(1, Environment.ProcessorCount / local);
    }

    /// <summary>
    /// Runs body(i) for i in [0, count) on up to <see cref="Threads"/> threads (see <see cref="WorkerPool"/>), in order when
    /// single-threaded. The first exception a body throws is rethrown once every index has run.
    /// </summary>
    public static void For(int count, Action<int> body, int minPerThread = 1)
    {
        int workers = Math.Min(Threads, count / Math.Max(1, minPerThread));
        if (workers <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Pool.Run(count, workers - 1, body);
    }

    /// <summary>
    /// Runs body(start, length) over [0, <paramref name="length"/>) cut into consecutive pieces of <paramref name="piece"/>
    /// elements (the last shorter), as <see cref="For"/> runs indices. The cut does not depend on the thread count, so
    /// per-piece partial sums combine the same way on any machine.
    /// </summary>
    public static void ForRanges(int length, int piece, Action<int, int> body)
    {
        int pieces = (length + piece - 1) / piece;
        if (pieces <= 1) body(0, length);
        else For(pieces, i => body(i * piece, Math.Min(piece, length - i * piece)));
    }
}
