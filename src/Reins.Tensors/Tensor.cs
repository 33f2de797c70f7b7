using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Reins.Tensors;

/// <summary>
/// A dense, row-major, contiguous float32 tensor. Reshapes and leading-axis slices are views that share
/// storage (and gradient storage) with their base; every other op writes a new tensor.
/// </summary>
public sealed class Tensor
{
    private float[] data;
    private readonly int offset;
    private readonly Tensor? viewBase;
    private Tensor? grad;
    private bool released;
    // After Pack, data holds the values as bfloat16 (two to a float slot) until the next read widens them back; volatile
    // so a thread that sees it clear also sees the widened data.
    private volatile bool packed;
    // A parameter made without initialisation gets its float32 storage on first use, so a weight a checkpoint's reader
    // holds as bfloat16 only never has any; volatile as packed is.
    private volatile bool unallocated;
    private static readonly Lock Unpacking = new();

    /// <summary>Extent of each axis.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements.</summary>
    public int Size { get; }

    /// <summary>Dotted parameter name (Hugging Face naming for model weights), or null.</summary>
    public string? Name { get; set; }

    /// <summary>Whether gradients flow into this tensor. Set false on a parameter to freeze it.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>The op that produced this tensor (for error messages and anomaly reports).</summary>
    public string Op { get; internal set; } = "leaf";

    internal Tensor(float[] data, int offset, int[] shape, Tensor? viewBase = null)
    {
        this.data = data;
        this.offset = offset;
        this.viewBase = viewBase;
        Shape = shape;
        Size = ShapeSize(shape);
        if (offset + Size > data.Length)
            throw new ArgumentException($"Tensor of shape {Format(shape)} needs {Size} floats from offset {offset}, storage holds {data.Length}.");
    }

    // A parameter whose float32 storage is allocated on first use (Parameter(name, shape)).
    private Tensor(int[] shape)
    {
        data = [];
        Shape = shape;
        Size = ShapeSize(shape);
        unallocated = Size > 0;
    }

    /// <summary>Number of axes.</summary>
    public int Rank => Shape.Length;

    /// <summary>Extent of axis <paramref name="axis"/>; negative counts from the end.</summary>
    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>The elements, in row-major order.</summary>
    public Span<float> Span => Storage.AsSpan(offset, Size);

    internal unsafe float* Ptr
    {
        get
        {
            var storage = Storage;
            return Size == 0 ? null : (float*)Unsafe.AsPointer(ref storage[offset]);
        }
    }

    /// <summary>The tensor that owns the storage: this one, or the base of a view.</summary>
    internal Tensor Root => viewBase ?? this;

    // A view reads its base's current storage (and offsets into it), so packing and unpacking the base moves its views too.
    private float[] Storage
    {
        get
        {
            ThrowIfReleased();
            var root = viewBase ?? this;
            if (root.packed) root.Unpack();
            if (root.Bf16Only)
                throw new InvalidOperationException($"{root.Name ?? "tensor " + Format(Shape)} is stored as bfloat16 only (a frozen weight under bf16): its float32 values are gone; only linear layers and lookups read it.");
            if (root.unallocated) root.Allocate();
            return root.data;
        }
    }

    /// <summary>
    /// Stores the values as bfloat16 (round to nearest even) in half the memory, returning the float32 buffer to the pool;
    /// the next read of the tensor or of any view of it widens them back into a float32 buffer. For activations kept only
    /// for a backward pass (<see cref="Ops.Bf16SavedActivations"/>). Returns whether it packed: only a base tensor that fills
    /// its own storage does, and only from <see cref="MinPackedSize"/> elements, below which rounding would save nothing worth it.
    /// </summary>
    internal bool Pack()
    {
        if (released || packed || KeepsFloat32 || viewBase is not null || offset != 0 || data.Length != Size || Size < MinPackedSize) return false;
        var (full, half) = (data, BufferPool.Rent((Size + 1) / 2));
        Engine.ForRanges(Size, ConversionPiece, (start, length) =>
            Kernels.Bf16.FromFloat(full.AsSpan(start, length), MemoryMarshal.Cast<float, ushort>(half.AsSpan()).Slice(start, length)));
        BufferPool.Return(full);
        (data, packed) = (half, true);
        return true;
    }

    internal const int MinPackedSize = 4096;

    private void Allocate()
    {
        // Kernels may first read a parameter from several worker threads at once.
        lock (Unpacking)
        {
            if (!unallocated) return;
            data = GC.AllocateUninitializedArray<float>(Size, pinned: true);
            unallocated = false;
        }
    }

    /// <summary>Whether <see cref="Pack"/> leaves this tensor float32: values that must stay exact, as a dropout mask's 1/(1 − p).</summary>
    internal bool KeepsFloat32 { get; set; }

    // Pieces large enough that splitting them over threads pays for itself; conversions are elementwise, so the cut changes nothing.
    private const int ConversionPiece = 1 << 16;

    private void Unpack()
    {
        // Backward kernels may first read a packed input from several worker threads at once.
        lock (Unpacking)
        {
            if (!packed) return;
            var (half, full) = (data, BufferPool.Rent(Size));
            Engine.ForRanges(Size, ConversionPiece, (start, length) =>
                Kernels.Bf16.ToFloat(MemoryMarshal.Cast<float, ushort>(half.AsSpan()).Slice(start, length), full.AsSpan(start, length)));
            BufferPool.Return(half);
            (data, packed) = (full, false);
        }
    }

    /// <summary>
    /// While this tensor (or the base of this view) is packed, its values as bfloat16 — a kernel that reads them so leaves
    /// it packed, where any float32 read would widen the whole tensor into a second buffer first —; otherwise null. A
    /// backward kernel takes it once, before it starts, and reads the tensor only through it.
    /// </summary>
    internal unsafe ushort* PackedPtr
    {
        get
        {
            ThrowIfReleased();
            var root = viewBase ?? this;
            return root.packed && Size > 0 ? (ushort*)Unsafe.AsPointer(ref root.data[0]) + offset : null;
        }
    }

    /// <summary>A reader of the values as float32 whether they are stored so or packed (see <see cref="ValueReader"/>).</summary>
    internal ValueReader Reader() => new(this);

    /// <summary>
    /// A bfloat16 copy of the values (<see cref="KeepBf16Copy"/>), which inference-time linear layers and embedding
    /// lookups read instead of the float32 values; null when none was made.
    /// </summary>
    internal ushort[]? Bf16 => bf16Active ? bf16 : null;

    private ushort[]? bf16;
    private bool bf16Active;

    /// <summary>Whether <see cref="Bf16"/> holds the matrix transposed ([columns, rows]).</summary>
    internal bool Bf16Transposed { get; private set; }

    /// <summary>
    /// Makes a bfloat16 copy of the values (round to nearest even) that linear layers and embedding lookups then read
    /// whenever no gradient is being recorded: generation reads half the bytes. The float32 values stay as they are and training still uses them;
    /// the copy does not follow later changes, so make it once the weights are final. <paramref name="transposed"/> stores a
    /// matrix [in, out] (GPT-2's Conv1D) as [out, in], so a decoding step reads each output's weights as one contiguous row.
    /// </summary>
    public void KeepBf16Copy(bool transposed = false)
    {
        if (Bf16Only) return;
        // A copy dropped earlier is refreshed in place: rollouts make one every step from the moving weights.
        (bf16, bf16Active, Bf16Transposed) = (Rounded(Span, transposed, bf16 is { } old && old.Length == Size ? old : null), true, transposed);
    }

    // values (this tensor's shape) rounded to bfloat16, into reuse when given; transposed, an [r, c] matrix's copy is [c, r].
    private unsafe ushort[] Rounded(ReadOnlySpan<float> values, bool transposed, ushort[]? reuse)
    {
        var copy = reuse ?? GC.AllocateUninitializedArray<ushort>(values.Length, pinned: true);
        if (transposed && Rank != 2) throw new InvalidOperationException($"a transposed bfloat16 copy needs a matrix, not {Format(Shape)}.");
        var columnsFirst = transposed ? Transposed(values, Shape[0], Shape[1]) : null;
        fixed (float* pinned = columnsFirst is null ? values : columnsFirst.AsSpan(0, values.Length))
        {
            float* source = pinned;
            Engine.ForRanges(values.Length, ConversionPiece, (start, length) => Kernels.Bf16.FromFloat(new ReadOnlySpan<float>(source + start, length), copy.AsSpan(start, length)));
        }
        if (columnsFirst is not null) BufferPool.Return(columnsFirst);
        return copy;
    }

    /// <summary>Stops reading the bfloat16 copy (the float32 values are read again); its storage is kept for the next <see cref="KeepBf16Copy"/>.</summary>
    public void DropBf16Copy() => bf16Active = Bf16Only;

    /// <summary>An int8 copy of the matrix (<see cref="KeepInt8Copy"/>), which linear layers and lookups read instead of the other values when no gradient is recorded; null when none is kept.</summary>
    internal Kernels.Int8Matrix? Int8 => int8Active ? int8 : null;

    private Kernels.Int8Matrix? int8;
    private bool int8Active;

    /// <summary>
    /// Makes an int8 copy of this matrix (<see cref="Kernels.Int8Matrix"/>: per-output absmax scales), which linear layers
    /// and embedding lookups then read whenever no gradient is being recorded: sampling reads a quarter of float32's
    /// bytes. Outputs are rows, or with <paramref name="transposed"/> columns ([in, out], GPT-2's Conv1D); the copy is
    /// stored [outputs, inputs]. A matrix held as bf16 only is quantised from those values. The copy does not follow
    /// later changes: rollouts make one each step from the moving weights (reusing its storage).
    /// </summary>
    public void KeepInt8Copy(bool transposed = false)
    {
        if (Rank != 2) throw new InvalidOperationException($"an int8 copy needs a matrix, not {Format(Shape)}.");
        int outputs = transposed ? Shape[1] : Shape[0], inputs = transposed ? Shape[0] : Shape[1];
        if (Bf16Only && Bf16Transposed != transposed)
            throw new InvalidOperationException($"{Name ?? "tensor " + Format(Shape)} is held as bfloat16 {(Bf16Transposed ? "transposed" : "untransposed")}; its int8 copy was asked for the other layout.");
        // A bf16-only matrix is stored [outputs, inputs] already (its copy's layout is the one asked for here); a
        // transposed float32 one is transposed whole first, in cache-sized tiles, rather than read a column at a time.
        var outputMajor = transposed && !Bf16Only ? Transposed(Span, Shape[0], Shape[1]) : null;
        int8 = Kernels.Int8Matrix.Quantize(outputs, inputs, (o, row) =>
        {
            if (Bf16Only) Kernels.Bf16.ToFloat(bf16.AsSpan(o * inputs, inputs), row);
            else (outputMajor is null ? Span : outputMajor.AsSpan()).Slice(o * inputs, inputs).CopyTo(row);
        }, int8);
        if (outputMajor is not null) BufferPool.Return(outputMajor);
        int8Active = true;
    }

    // [rows, columns] → [columns, rows] in a pooled buffer (the caller returns it), a 32 × 32 tile at a time; for the
    // bf16 and int8 copies of GPT-2's Conv1D weights, stored output-major.
    private static unsafe float[] Transposed(ReadOnlySpan<float> values, int rows, int columns)
    {
        var result = BufferPool.Rent(values.Length);
        const int Tile = 32;
        fixed (float* pinned = values)
        {
            float* source = pinned;
            // Bands of tile rows in parallel: each writes its own elements, so the cut changes nothing.
            Engine.ForRanges((rows + Tile - 1) / Tile, Math.Max(1, ConversionPiece / Tile / Math.Max(1, columns)), (firstBand, bands) =>
            {
                for (int i0 = firstBand * Tile; i0 < Math.Min(rows, (firstBand + bands) * Tile); i0 += Tile)
                    for (int j0 = 0; j0 < columns; j0 += Tile)
                        for (int i = i0; i < Math.Min(rows, i0 + Tile); i++)
                            for (int j = j0; j < Math.Min(columns, j0 + Tile); j++) result[j * rows + i] = source[(long)i * columns + j];
            });
        }
        return result;
    }

    /// <summary>Stops reading the int8 copy; its storage is kept for the next <see cref="KeepInt8Copy"/>.</summary>
    public void DropInt8Copy() => int8Active = false;

    /// <summary>Whether the values are kept as bfloat16 only (<see cref="StoreAsBf16Only"/>).</summary>
    public bool Bf16Only { get; private set; }

    /// <summary>
    /// Keeps the values as bfloat16 only, dropping the float32 ones: half the memory of a frozen weight (TRL's bf16 holds
    /// frozen reference and reward models in bf16). Linear layers and lookups then read the copy whether or not a
    /// gradient is recorded — the input's gradient flows through it — and anything else that reads the values throws.
    /// Trained tensors keep their float32 masters, so this refuses one that requires a gradient.
    /// </summary>
    public void StoreAsBf16Only(bool transposed = false)
    {
        if (Bf16Only) return;
        RequireFrozenBase();
        KeepBf16Copy(transposed);
        (data, Bf16Only) = ([], true);
    }

    /// <summary>
    /// Holds <paramref name="values"/> — this tensor's values as bfloat16, in <see cref="KeepBf16Copy"/>'s layout — as its only
    /// storage, as <see cref="StoreAsBf16Only(bool)"/> leaves it: a frozen weight a checkpoint's reader fills as bfloat16
    /// directly, so its float32 values are never made (see <see cref="Parameter(string, int[])"/>).
    /// </summary>
    public void StoreAsBf16Only(ushort[] values, bool transposed)
    {
        RequireFrozenBase();
        if (values.Length != Size) throw new ArgumentException($"{Name ?? "tensor " + Format(Shape)}: {values.Length} bfloat16 values for {Size} elements.");
        (bf16, bf16Active, Bf16Transposed, data, unallocated, Bf16Only) = (values, true, transposed, [], false, true);
    }

    /// <summary>
    /// <see cref="StoreAsBf16Only(ushort[], bool)"/> from float32 <paramref name="values"/> (this tensor's, read from elsewhere),
    /// rounded as <see cref="KeepBf16Copy"/> rounds: the tensor's own float32 storage is never made.
    /// </summary>
    public void StoreAsBf16Only(ReadOnlySpan<float> values, bool transposed)
    {
        RequireFrozenBase();
        if (values.Length != Size) throw new ArgumentException($"{Name ?? "tensor " + Format(Shape)}: {values.Length} values for {Size} elements.");
        StoreAsBf16Only(Rounded(values, transposed, null), transposed);
    }

    private void RequireFrozenBase()
    {
        if (RequiresGrad || viewBase is not null)
            throw new InvalidOperationException($"{Name ?? "tensor " + Format(Shape)}: only a frozen base tensor can be stored as bfloat16 alone; a trained one keeps its float32 master values.");
    }

    /// <summary>The accumulated gradient, or null before any backward pass reached this tensor.</summary>
    public Tensor? Grad => viewBase is null ? grad : grad ??= viewBase.Grad is { } g ? new Tensor(g.data, g.offset + (offset - viewBase.offset), Shape, g) : null;

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item()
    {
        if (Size != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, this one has shape {Format(Shape)}.");
        return Span[0];
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => Span.ToArray();

    /// <summary>The elements where they are stored, for a reader that holds them across calls (a checkpoint writer), unlike <see cref="Span"/>.</summary>
    public ReadOnlyMemory<float> Memory => new(Storage, offset, Size);

    // ---- creation -------------------------------------------------------------------------------------

    /// <summary>A tensor of zeros. Inside a <see cref="Tape"/> its storage is pooled and released with the tape.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        var t = Uninitialized(shape);
        t.Span.Clear();
        return t;
    }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = Uninitialized(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>A tensor holding a copy of <paramref name="values"/>.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        if (ShapeSize(shape) != values.Length)
            throw new ArgumentException($"FromArray: {values.Length} values cannot fill shape {Format(shape)} ({ShapeSize(shape)} elements).");
        var t = Uninitialized(shape);
        values.CopyTo(t.Span);
        return t;
    }

    /// <summary>A one-element tensor.</summary>
    public static Tensor Scalar(float value) => Full(value, 1);

    /// <summary>Samples from N(mean, std²).</summary>
    public static Tensor Normal(Rng rng, float mean, float std, params int[] shape)
    {
        var t = Uninitialized(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = mean + std * rng.NextNormal();
        return t;
    }

    /// <summary>Samples from U[low, high).</summary>
    public static Tensor Uniform(Rng rng, float low, float high, params int[] shape)
    {
        var t = Uninitialized(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = low + (high - low) * rng.NextFloat();
        return t;
    }

    /// <summary>A trainable leaf: never pooled, never released by a tape.</summary>
    public static Tensor Parameter(string name, Tensor init)
    {
        var p = Parameter(name, init.Shape);
        init.Span.CopyTo(p.Span);
        return p;
    }

    /// <summary>
    /// A trainable leaf with its values unset, for a caller that writes every one of them next (a checkpoint's reader): its
    /// float32 storage is allocated on first use, so one held as bfloat16 only from the start never has any.
    /// </summary>
    public static Tensor Parameter(string name, int[] shape)
    {
        CheckExtents(shape);
        return new Tensor((int[])shape.Clone()) { Name = name, RequiresGrad = true };
    }

    /// <summary>
    /// Uninitialised storage from the <see cref="BufferPool"/> that no tape owns: the caller hands it back with
    /// <see cref="ReturnToPool"/>. For large scratch that lives across tapes and is made again and again (a
    /// generation's KV cache): fresh GC memory costs a page fault per 4 KB each time.
    /// </summary>
    public static Tensor RentUninitialized(params int[] shape)
    {
        CheckExtents(shape);
        return new Tensor(BufferPool.Rent(ShapeSize(shape)), 0, (int[])shape.Clone());
    }

    /// <summary>Gives the storage of a <see cref="RentUninitialized"/> tensor back to the pool; the tensor is unusable afterwards.</summary>
    public void ReturnToPool() => Release();

    internal static Tensor Uninitialized(int[] shape)
    {
        CheckExtents(shape);
        var tape = Tape.Current;
        var t = new Tensor(tape is null ? GC.AllocateUninitializedArray<float>(ShapeSize(shape), pinned: true) : BufferPool.Rent(ShapeSize(shape)), 0, shape);
        tape?.Own(t);
        return t;
    }

    private static void CheckExtents(int[] shape)
    {
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"Negative extent in shape {Format(shape)}.");
    }

    /// <summary>A tensor with the same shape and a fresh copy of the data, detached from any tape.</summary>
    public Tensor Persist()
    {
        var storage = GC.AllocateUninitializedArray<float>(Size, pinned: true);
        Span.CopyTo(storage);
        return new Tensor(storage, 0, (int[])Shape.Clone()) { Name = Name };
    }

    /// <summary>A view sharing this tensor's data that gradients do not flow through (PyTorch's detach).</summary>
    public Tensor Detach() => new(Storage, offset, Shape, viewBase ?? this) { Op = Op };

    internal Tensor View(int[] shape, int extraOffset = 0) => new(Storage, offset + extraOffset, shape, viewBase ?? this) { RequiresGrad = RequiresGrad };

    // ---- gradients ------------------------------------------------------------------------------------

    /// <summary>The gradient buffer, created zeroed on first use (shared with the base for views).</summary>
    internal Tensor EnsureGrad()
    {
        if (viewBase is not null)
        {
            var g = viewBase.EnsureGrad();
            return grad ??= new Tensor(g.data, g.offset + (offset - viewBase.offset), Shape, g);
        }
        if (grad is null)
        {
            NewGrad();
            grad!.Span.Clear();
        }
        return grad;
    }

    /// <summary>
    /// The gradient buffer for a backward step that writes every element of it. When this tensor has no gradient yet,
    /// one is made without zeroing it and <paramref name="overwrite"/> is true: the caller must store, not add (so the
    /// first contribution costs no separate pass to clear memory). Otherwise it is <see cref="EnsureGrad"/>'s, to add into.
    /// </summary>
    internal Tensor GradToWrite(out bool overwrite)
    {
        overwrite = viewBase is null && grad is null;
        if (!overwrite) return EnsureGrad();
        NewGrad();
        return grad!;
    }

    private void NewGrad()
    {
        // A parameter's gradient lives as long as the parameter; an activation's goes back to the pool with its tape.
        var tape = Name is null ? Tape.Current : null;
        grad = new Tensor(tape is null ? GC.AllocateUninitializedArray<float>(Size, pinned: true) : BufferPool.Rent(Size), 0, Shape);
        tape?.OwnGrad(this);
    }

    /// <summary>Sets the gradient to zero (keeping its buffer) — call between optimiser steps.</summary>
    public void ZeroGrad() => grad?.Span.Clear();

    /// <summary>Forgets the gradient buffer entirely.</summary>
    public void ClearGrad() => grad = null;

    internal void ReleaseGrad()
    {
        if (grad is not null && viewBase is null) BufferPool.Return(grad.data);
        grad = null;
    }

    internal void Release()
    {
        if (released || viewBase is not null) return;
        BufferPool.Return(data);
        (data, packed, released) = ([], false, true);
    }

    private void ThrowIfReleased()
    {
        if (released || (viewBase is not null && viewBase.released))
            throw new ObjectDisposedException($"tensor {Format(Shape)} from op '{Op}'",
                "Its tape was disposed, which returned its storage to the pool. Call Persist() inside the tape to keep a copy.");
    }

    // ---- shape helpers --------------------------------------------------------------------------------

    internal static int ShapeSize(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n > int.MaxValue) throw new ArgumentException($"Shape {Format(shape.ToArray())} has {n} elements, more than a tensor can hold.");
        return (int)n;
    }

    /// <summary>Formats a shape as [a,b,c].</summary>
    public static string Format(int[] shape) => "[" + string.Join(",", shape) + "]";

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor").Append(Format(Shape));
        if (Name is not null) sb.Append(' ').Append(Name);
        if (Bf16Only) sb.Append(" (bf16 only)");
        else if (!released)
        {
            sb.Append(" [");
            var s = Span;
            for (int i = 0; i < Math.Min(s.Length, 8); i++) sb.Append(i == 0 ? "" : ", ").Append(s[i].ToString("G5"));
            if (s.Length > 8) sb.Append(", …");
            sb.Append(']');
        }
        return sb.ToString();
    }

    // Operators for readable model code.
    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, float s) => Ops.AddScalar(a, s);
    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, float s) => Ops.AddScalar(a, -s);
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(Tensor a, float s) => Ops.MulScalar(a, s);
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(float s, Tensor a) => Ops.MulScalar(a, s);
    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, float s) => Ops.MulScalar(a, 1f / s);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => Ops.MulScalar(a, -1f);
    /// <summary>s − a.</summary>
    public static Tensor operator -(float s, Tensor a) => Ops.AddScalar(Ops.MulScalar(a, -1f), s);
    /// <summary>s + a.</summary>
    public static Tensor operator +(float s, Tensor a) => Ops.AddScalar(a, s);
}

/// <summary>
/// Reads a tensor's values as float32 a piece at a time: slices of its storage, or — while it is packed as bf16 —
/// pieces widened into the caller's cache-sized scratch where they are used, leaving it packed. Made once per kernel
/// task, so the per-piece cost is a branch.
/// </summary>
internal readonly unsafe ref struct ValueReader
{
    private readonly ReadOnlySpan<float> values;
    private readonly ushort* packed;

    public ValueReader(Tensor tensor)
    {
        packed = tensor.PackedPtr;
        values = packed == null ? tensor.Span : default;
    }

    /// <summary>Elements [start, start + length): a slice of the storage, or widened into <paramref name="scratch"/>.</summary>
    public ReadOnlySpan<float> Read(int start, int length, Span<float> scratch)
    {
        if (packed == null) return values.Slice(start, length);
        Kernels.Bf16.ToFloat(new ReadOnlySpan<ushort>(packed + start, length), scratch[..length]);
        return scratch[..length];
    }
}
