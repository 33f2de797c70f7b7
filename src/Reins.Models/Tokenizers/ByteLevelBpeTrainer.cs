namespace Reins.Models.Tokenizers;

/// <summary>
/// Learns GPT-2-style byte-level BPE merges (Sennrich et al. 2016; Radford et al. 2019): pre-tokenize with GPT-2's
/// pattern, count words, then repeatedly merge the most frequent adjacent pair. Pair counts are updated
/// incrementally, only in the words that contain the merged pair, and a lazily refreshed heap finds the next
/// pair. Ties go to the pair of lowest (left id, right id), so the result depends only on the corpus.
/// </summary>
internal static class ByteLevelBpeTrainer
{
    /// <returns>The trained tokenizer.json: ids 0–255 are bytes, then <paramref name="specialTokens"/>, then merged tokens.</returns>
    public static byte[] Train(IEnumerable<string> corpus, int vocabSize, IReadOnlyList<string> specialTokens, IReadOnlyList<string> bosNames)
    {
        if (specialTokens.Any(string.IsNullOrEmpty) || specialTokens.Distinct().Count() != specialTokens.Count)
            throw new ArgumentException("special tokens must be distinct and non-empty", nameof(specialTokens));
        if (vocabSize < 256 + specialTokens.Count)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"must be at least 256 bytes + {specialTokens.Count} special tokens");

        var tokens = ByteLevelAlphabet.ByteToChar.Select(c => c.ToString()).Concat(specialTokens).ToList();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) ids[tokens[i]] = i;
        var (words, counts) = CountWords(corpus, specialTokens);

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        var changed = new HashSet<long>();
        for (int w = 0; w < words.Count; w++) AddPairs(w, +1);
        var heap = new PriorityQueue<long, (long NegativeCount, long Pair)>();
        foreach (var (pair, count) in pairCounts) heap.Enqueue(pair, (-count, pair));

        var merges = new List<(string, string)>();
        while (tokens.Count < vocabSize && heap.TryDequeue(out long best, out var key))
        {
            long count = pairCounts.GetValueOrDefault(best);
            if (count <= 0) continue;
            // Counts only fall between pushes, so an entry whose count is out of date goes back with the current one.
            if (count != -key.NegativeCount)
            {
                heap.Enqueue(best, (-count, best));
                continue;
            }
            var (left, right) = (tokens[(int)(best >> 32)], tokens[(int)(uint)best]);
            string merged = left + right;
            // Two pairs can spell the same token ("a"+"bc", "ab"+"c"); the second rule reuses its id.
            if (!ids.TryGetValue(merged, out int mergedId))
            {
                mergedId = tokens.Count;
                ids[merged] = mergedId;
                tokens.Add(merged);
            }
            merges.Add((left, right));
            changed.Clear();
            foreach (int w in pairWords[best].Order())
            {
                AddPairs(w, -1);
                words[w] = ApplyMerge(words[w], best, mergedId);
                AddPairs(w, +1);
            }
            pairWords.Remove(best);
            pairCounts.Remove(best);
            foreach (long pair in changed)
                if (pairCounts.GetValueOrDefault(pair) > 0) heap.Enqueue(pair, (-pairCounts[pair], pair));
        }

        int? bos = bosNames.Select(name => ids.TryGetValue(name, out int id) && id >= 256 && id < 256 + specialTokens.Count ? id : (int?)null).FirstOrDefault(id => id is not null);
        return ByteLevelBpeJson.Write(tokens, merges, Enumerable.Range(256, specialTokens.Count), bos);

        void AddPairs(int w, int sign)
        {
            var word = words[w];
            for (int i = 0; i + 1 < word.Length; i++)
            {
                long pair = ((long)word[i] << 32) | (uint)word[i + 1];
                pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + sign * counts[w];
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(pair, out var set)) pairWords[pair] = set = [];
                    set.Add(w);
                    changed.Add(pair);
                }
            }
        }
    }

    private static int[] ApplyMerge(int[] word, long pair, int mergedId)
    {
        int left = (int)(pair >> 32), right = (int)(uint)pair;
        var result = new List<int>(word.Length);
        for (int i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == left && word[i + 1] == right) { result.Add(mergedId); i++; }
            else result.Add(word[i]);
        }
        return [.. result];
    }

    // Distinct pre-tokens as byte-id sequences, with how often each occurs; special tokens in the text are left out.
    private static (List<int[]> Words, List<long> Counts) CountWords(IEnumerable<string> corpus, IReadOnlyList<string> specialTokens)
    {
        var specials = new AddedTokenMatcher(specialTokens.Select((s, i) => new AddedToken(256 + i, s, Special: true)));
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var segments = new List<TextSegment>();
        var pieces = new PieceBuffer();
        foreach (var document in corpus)
        {
            segments.Clear();
            specials.Split(document, segments);
            foreach (var segment in segments)
            {
                if (segment.Token is not null) continue;
                var text = document.AsSpan(segment.Start, segment.Length);
                pieces.Clear();
                for (int at = 0; at < text.Length;)
                {
                    int length = CodePointPatternScanner.Gpt2.MatchLength(text, at);
                    ByteLevelPreTokenizer.Map(text.Slice(at, length), pieces);
                    at += length;
                }
                for (int i = 0; i < pieces.Count; i++) lookup[pieces[i]] = lookup.TryGetValue(pieces[i], out long c) ? c + 1 : 1;
            }
        }
        var words = new List<int[]>(counts.Count);
        var wordCounts = new List<long>(counts.Count);
        foreach (var (word, count) in counts)
        {
            words.Add(word.Select(c => ByteLevelAlphabet.TryGetByte(c, out byte b) ? b : throw new InvalidOperationException("unreachable: pieces are byte-level")).Select(b => (int)b).ToArray());
            wordCounts.Add(count);
        }
        return (words, wordCounts);
    }
}
