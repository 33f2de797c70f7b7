using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Reins.Models.Tokenizers;

/// <summary>One merge rule: the pair of token ids and the id of the token they become.</summary>
internal readonly record struct BpeMerge(int Left, int Right, int Merged);

/// <summary>
/// tokenizer.json's BPE model: starts from one symbol per code point (or its UTF-8 byte tokens, or the unknown
/// token) and repeatedly merges the adjacent pair of lowest rank, leftmost first, as the Rust implementation's
/// heap does. Results are cached per pre-token, which is what makes encoding fast on natural text.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedPieceLength = 256;
    private const int CacheCapacity = 100_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly int[] _byteTokens;
    private readonly int? _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly char? _wordStart;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    [ThreadStatic] private static PriorityQueue<int, long>? t_queue;

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<BpeMerge> merges, int? unknownId, bool fuseUnknown, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        // A pair listed twice keeps its later rank, as both reference implementations do.
        for (int rank = 0; rank < merges.Count; rank++) _merges[Pair(merges[rank].Left, merges[rank].Right)] = (rank, merges[rank].Merged);
        _byteTokens = new int[256];
        for (int b = 0; b < 256; b++) _byteTokens[b] = byteFallback && vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        _unknownId = unknownId;
        _fuseUnknown = fuseUnknown;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _wordStart = ignoreMerges ? null : WordStartMarker(vocab);
    }

    // SentencePiece-style files have no pre-tokenizer, so a whole paragraph arrives as one piece: too long to cache
    // and slow to merge. When no token has ▁ after another character, no merge can cross the start of a ▁ run, so
    // cutting the piece there changes nothing but speed.
    private static char? WordStartMarker(Dictionary<string, int> vocab)
    {
        const char Marker = '\u2581';
        if (!vocab.ContainsKey(Marker.ToString())) return null;
        foreach (var token in vocab.Keys)
            for (int i = 1; i < token.Length; i++)
                if (token[i] == Marker && token[i - 1] != Marker) return null;
        return Marker;
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>Appends the ids of one pre-token.</summary>
    public void Encode(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (_wordStart is not { } marker)
        {
            EncodeWord(piece, ids);
            return;
        }
        int start = 0;
        for (int i = 1; i < piece.Length; i++)
            if (piece[i] == marker && piece[i - 1] != marker) { EncodeWord(piece[start..i], ids); start = i; }
        EncodeWord(piece[start..], ids);
    }

    private void EncodeWord(ReadOnlySpan<char> piece, List<int> ids)
    {
        // ignore_merges (Llama-3): a pre-token that is itself a token is emitted whole, whatever the merges would give.
        if (_ignoreMerges && _vocabBySpan.TryGetValue(piece, out int whole))
        {
            ids.Add(whole);
            return;
        }
        if (_cacheBySpan.TryGetValue(piece, out var cached))
        {
            ids.AddRange(cached);
            return;
        }
        var result = Merge(piece);
        if (piece.Length <= MaxCachedPieceLength && _cache.Count < CacheCapacity) _cacheBySpan.TryAdd(piece, result);
        ids.AddRange(result);
    }

    private int[] Merge(ReadOnlySpan<char> piece)
    {
        // Byte fallback can turn one UTF-16 unit into three byte tokens (a surrogate pair into four).
        int capacity = piece.Length * 3 + 1;
        int[] symbols = ArrayPool<int>.Shared.Rent(capacity), next = ArrayPool<int>.Shared.Rent(capacity), prev = ArrayPool<int>.Shared.Rent(capacity);
        try
        {
            int n = InitialSymbols(piece, symbols);
            for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
            var queue = t_queue ??= new PriorityQueue<int, long>();
            queue.Clear();
            for (int i = 0; i + 1 < n; i++) Enqueue(i);
            while (queue.TryDequeue(out int pos, out long key))
            {
                int right = next[pos];
                if (symbols[pos] < 0 || right < 0) continue;
                // Entries go stale when a neighbour merges first; the pair's current rank tells.
                if (!_merges.TryGetValue(Pair(symbols[pos], symbols[right]), out var merge) || merge.Rank != (int)(key >> 32)) continue;
                symbols[pos] = merge.Merged;
                symbols[right] = -1;
                next[pos] = next[right];
                if (next[right] >= 0) prev[next[right]] = pos;
                if (prev[pos] >= 0) Enqueue(prev[pos]);
                Enqueue(pos);
            }
            var result = new List<int>(n);
            for (int i = 0; i < n; i++) if (symbols[i] >= 0) result.Add(symbols[i]);
            return [.. result];

            void Enqueue(int left)
            {
                int right = next[left];
                if (right >= 0 && _merges.TryGetValue(Pair(symbols[left], symbols[right]), out var m))
                    queue.Enqueue(left, ((long)m.Rank << 32) | (uint)left);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(symbols);
            ArrayPool<int>.Shared.Return(next);
            ArrayPool<int>.Shared.Return(prev);
        }
    }

    private int InitialSymbols(ReadOnlySpan<char> piece, int[] symbols)
    {
        int n = 0;
        bool previousUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < piece.Length;)
        {
            CodePoints.At(piece, i, out int width);
            var unit = piece.Slice(i, width);
            i += width;
            if (_vocabBySpan.TryGetValue(unit, out int id)) { symbols[n++] = id; previousUnknown = false; continue; }
            if (TryByteFallback(unit, utf8, symbols, ref n)) { previousUnknown = false; continue; }
            if (_unknownId is not { } unknown) continue;
            if (!(_fuseUnknown && previousUnknown)) symbols[n++] = unknown;
            previousUnknown = true;
        }
        return n;
    }

    // <0xAB> tokens for each UTF-8 byte, used only when every one of them is in the vocabulary.
    private bool TryByteFallback(ReadOnlySpan<char> unit, Span<byte> utf8, int[] symbols, ref int n)
    {
        if (!_byteFallback) return false;
        int count = Encoding.UTF8.GetBytes(unit, utf8);
        for (int k = 0; k < count; k++) if (_byteTokens[utf8[k]] < 0) return false;
        for (int k = 0; k < count; k++) symbols[n++] = _byteTokens[utf8[k]];
        return true;
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;
}
