namespace Reins.Models.Tokenizers;

/// <summary>
/// Text pieces stored back to back in one growable buffer, so that splitting a document into pre-tokens
/// allocates nothing per piece once the buffer has grown to the document's size.
/// </summary>
internal sealed class PieceBuffer
{
    private char[] _chars = new char[1024];
    private int _used;
    private readonly List<(int Start, int Length)> _pieces = [];

    public int Count => _pieces.Count;

    public ReadOnlySpan<char> this[int index]
    {
        get
        {
            var (start, length) = _pieces[index];
            return _chars.AsSpan(start, length);
        }
    }

    public void Clear()
    {
        _used = 0;
        _pieces.Clear();
    }

    /// <summary>Appends a piece; empty pieces are dropped, as the reference pre-tokenizers drop them.</summary>
    public void Add(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return;
        text.CopyTo(Reserve(text.Length));
        Commit(text.Length);
    }

    /// <summary>Room for a piece of at most <paramref name="maxLength"/> units, to be filled and then <see cref="Commit"/>ted.</summary>
    public Span<char> Reserve(int maxLength)
    {
        if (_used + maxLength > _chars.Length) Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _used + maxLength));
        return _chars.AsSpan(_used, maxLength);
    }

    public void Commit(int length)
    {
        if (length == 0) return;
        _pieces.Add((_used, length));
        _used += length;
    }
}
