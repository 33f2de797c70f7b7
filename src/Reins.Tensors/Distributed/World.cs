using System.Runtime.InteropServices;
using System.Text;

namespace Reins.Tensors.Distributed;

/// <summary>
/// The processes of a data-parallel run and the few collectives training needs, over the installed Open MPI (llm.c's
/// choice): a process started by <c>mpirun</c> (recognised by OMPI_COMM_WORLD_SIZE) loads libmpi.so.40 and joins
/// MPI_COMM_WORLD; the reductions are MPI_Allreduce and MPI_Allgatherv, so the collective algorithms are MPI's, not ours.
/// Without mpirun nothing MPI-related is loaded and the world is this one process: every collective returns its input.
/// Collectives must be called by every rank in the same order; a rank that fails calls <see cref="Abort"/>, which ends
/// the whole job instead of leaving the others waiting.
/// </summary>
public static unsafe class World
{
    private const string Library = "libmpi.so.40";
    private static readonly IntPtr InPlace = 1;     // Open MPI's MPI_IN_PLACE
    private static IntPtr comm, mpiFloat, mpiDouble, mpiInt, mpiByte, opSum, opMax;
    private static delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> allreduce;
    private static delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int*, int*, IntPtr, IntPtr, int> allgatherv;
    private static delegate* unmanaged<IntPtr, int, int> abort;
    private static delegate* unmanaged<int> finalize;

    /// <summary>This process's rank, from 0.</summary>
    public static int Rank { get; private set; }

    /// <summary>Processes in the run (1 without mpirun).</summary>
    public static int Size { get; private set; } = 1;

    /// <summary>Ranks on this machine (each should use its share of the cores).</summary>
    public static int LocalSize { get; private set; } = 1;

    /// <summary>Whether more than one process trains.</summary>
    public static bool IsDistributed => Size > 1;

    /// <summary>Whether this process logs, evaluates and writes: rank 0.</summary>
    public static bool IsMain => Rank == 0;

    /// <summary>Whether this process was started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE).</summary>
    public static bool UnderMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>
    /// Joins MPI_COMM_WORLD when started by mpirun; does nothing otherwise. Call once, before any collective.
    /// </summary>
    public static void Initialize()
    {
        if (!UnderMpirun || finalize != null) return;
        IntPtr lib;
        try { lib = Load(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException($"started by mpirun, but {Library} could not be loaded ({e.Message}); install Open MPI (apt-get install openmpi-bin libopenmpi3).");
        }
        IntPtr Export(string name) => NativeLibrary.GetExport(lib, name);
        (comm, mpiFloat, mpiDouble, mpiInt, mpiByte, opSum, opMax) = (Export("ompi_mpi_comm_world"), Export("ompi_mpi_float"), Export("ompi_mpi_double"),
            Export("ompi_mpi_int"), Export("ompi_mpi_byte"), Export("ompi_mpi_op_sum"), Export("ompi_mpi_op_max"));
        allreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Export("MPI_Allreduce");
        allgatherv = (delegate* unmanaged<IntPtr, int, IntPtr, IntPtr, int*, int*, IntPtr, IntPtr, int>)Export("MPI_Allgatherv");
        abort = (delegate* unmanaged<IntPtr, int, int>)Export("MPI_Abort");
        var init = (delegate* unmanaged<IntPtr, IntPtr, int>)Export("MPI_Init");
        var rank = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_rank");
        var size = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_size");
        Check(init(IntPtr.Zero, IntPtr.Zero), "MPI_Init");
        int r, s;
        Check(rank(comm, &r), "MPI_Comm_rank");
        Check(size(comm, &s), "MPI_Comm_size");
        (Rank, Size) = (r, s);
        LocalSize = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int local) && local > 0 ? local : 1;
        finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
    }

    // Open MPI's plug-ins resolve symbols of libmpi itself, so it must be loaded RTLD_GLOBAL (as mpi4py loads it).
    private static IntPtr Load()
    {
        const int RtldNow = 2, RtldGlobal = 0x100;
        if (dlopen(Library, RtldNow | RtldGlobal) == IntPtr.Zero) throw new DllNotFoundException(Marshal.PtrToStringUTF8(dlerror()) ?? Library);
        return NativeLibrary.Load(Library);
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr dlopen(string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr dlerror();

    /// <summary>Replaces <paramref name="values"/> on every rank by their sum over the ranks.</summary>
    public static void Sum(Span<float> values) => Reduce(values, mpiFloat, opSum);

    /// <summary>Replaces <paramref name="values"/> on every rank by their sum over the ranks.</summary>
    public static void Sum(Span<double> values) => Reduce(values, mpiDouble, opSum);

    /// <summary>Whether <paramref name="flag"/> is true on any rank (every rank gets the same answer).</summary>
    public static bool Any(bool flag)
    {
        Span<int> value = [flag ? 1 : 0];
        Reduce(value, mpiInt, opMax);
        return value[0] != 0;
    }

    private static void Reduce<T>(Span<T> values, IntPtr type, IntPtr op) where T : unmanaged
    {
        if (!IsDistributed || values.IsEmpty) return;
        fixed (T* p = values) Check(allreduce(InPlace, (IntPtr)p, values.Length, type, op, comm), "MPI_Allreduce");
    }

    /// <summary>Every rank's <paramref name="local"/> bytes, in rank order, on every rank.</summary>
    public static byte[][] Gather(byte[] local)
    {
        if (!IsDistributed) return [local];
        var lengths = new int[Size];
        lengths[Rank] = local.Length;
        Reduce(lengths.AsSpan(), mpiInt, opSum);
        var offsets = new int[Size];
        for (int r = 1; r < Size; r++) offsets[r] = offsets[r - 1] + lengths[r - 1];
        var all = new byte[offsets[^1] + lengths[^1]];
        fixed (byte* send = local)
        fixed (byte* receive = all)
        fixed (int* counts = lengths)
        fixed (int* displacements = offsets)
            Check(allgatherv((IntPtr)send, local.Length, mpiByte, (IntPtr)receive, counts, displacements, mpiByte, comm), "MPI_Allgatherv");
        return [.. Enumerable.Range(0, Size).Select(r => all.AsSpan(offsets[r], lengths[r]).ToArray())];
    }

    /// <summary>Every rank's <paramref name="local"/> text, in rank order, on every rank.</summary>
    public static string[] Gather(string local) => [.. Gather(Encoding.UTF8.GetBytes(local)).Select(b => Encoding.UTF8.GetString(b))];

    /// <summary>Ends every rank of the job with <paramref name="code"/> (MPI_Abort): a failed rank must not leave the others waiting in a collective.</summary>
    public static void Abort(int code)
    {
        if (IsDistributed) abort(comm, code);
    }

    /// <summary>Leaves MPI (MPI_Finalize) at a normal end; does nothing without mpirun.</summary>
    public static void Finish()
    {
        if (finalize == null) return;
        finalize();
        finalize = null;
    }

    private static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error {code} on rank {Rank} of {Size}.");
    }
}
