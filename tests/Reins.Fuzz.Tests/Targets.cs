using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reins.Alignment.Ppo;
using Reins.Alignment.Sft;
using Reins.Alignment.Training;
using Reins.Feedback.Datasets;
using Reins.Models;
using Reins.Models.Checkpoints;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Fuzz.Tests;

/// <summary>The loaders Reins reads users' files with, each as a <see cref="FuzzTarget"/> with valid seeds and an oracle.</summary>
internal static class Targets
{
    private static string PlaceFile(string dir, byte[] bytes, string name)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // ---------------------------------------------------------------- safetensors

    /// <summary>A file of the given tensors (name, dtype, shape) with arbitrary bytes, laid out as the format says.</summary>
    private static byte[] SafeTensorsFile(IEnumerable<(string Name, string DType, int[] Shape, int ElementSize)> tensors, bool metadata)
    {
        var header = new JsonObject();
        if (metadata) header["__metadata__"] = new JsonObject { ["format"] = "pt" };
        long offset = 0;
        foreach (var (name, dtype, shape, size) in tensors)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * size;
            header[name] = new JsonObject { ["dtype"] = dtype, ["shape"] = new JsonArray([.. shape.Select(d => (JsonNode)d)]), ["data_offsets"] = new JsonArray(offset, offset + bytes) };
            offset += bytes;
        }
        return Assemble(Encoding.UTF8.GetBytes(header.ToJsonString()), [.. Enumerable.Range(0, (int)offset).Select(i => (byte)(i * 37))]);
    }

    // The header padded with spaces to a multiple of 8, as writers do, behind its length.
    private static byte[] Assemble(byte[] header, byte[] data)
    {
        int padded = (header.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        header.CopyTo(file, 8);
        file.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(file, 8 + padded);
        return file;
    }

    // Blind edits, or header edits re-framed with a correct length (so the checks after parsing are reached), or a length
    // off by a little, or data cut or extended.
    private static byte[] MutateSafeTensors(byte[] file, Rng rng, IReadOnlyList<byte[]> seeds)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = file.AsSpan(8, n).ToArray();
        var data = file.AsSpan(8 + n).ToArray();
        switch (rng.NextInt(6))
        {
            case 0: return Mutations.Bytes(file, rng, seeds);
            case 5:
                // Changes a reader must accept: the entries in another order, more or less padding.
                var entries = JsonNode.Parse(header)!.AsObject().Select(kv => (kv.Key, Value: kv.Value?.DeepClone())).OrderBy(_ => rng.NextUInt64()).ToList();
                var reordered = new JsonObject();
                foreach (var (key, value) in entries) reordered[key] = value;
                return Assemble(Encoding.UTF8.GetBytes(reordered.ToJsonString() + new string(' ', rng.NextInt(12))), data);
            case 1 or 2: return Assemble(Mutations.Json(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(header).TrimEnd()), rng, seeds), data);
            case 3:
                var shifted = (byte[])file.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(shifted, (ulong)Math.Max(0, n + rng.NextInt(17) - 8));
                return shifted;
            default:
                int cut = rng.NextInt(Math.Max(1, data.Length + 8));
                return cut < data.Length ? [.. file.AsSpan(0, 8 + n), .. data.AsSpan(0, cut)] : [.. file, .. new byte[cut - data.Length + 1]];
        }
    }

    public static FuzzTarget SafeTensors()
    {
        var seeds = new List<byte[]>
        {
            SafeTensorsFile([("w", "F32", [2, 3], 4), ("b", "BF16", [3], 2), ("h", "F16", [1, 2], 2), ("ids", "I64", [2], 8), ("n", "I32", [1], 4), ("empty", "F32", [0, 4], 4)], metadata: true),
            SafeTensorsFile([("a.weight", "F32", [4], 4), ("scalar", "F32", [], 4)], metadata: false),
            SafeTensorsFile([("x", "F64", [2], 8), ("y", "U8", [3], 1)], metadata: true),
        };
        return new FuzzTarget("safetensors", seeds, MutateSafeTensors, (dir, bytes) => PlaceFile(dir, bytes, "model.safetensors"),
            path =>
            {
                var reader = new SafeTensorsReader(path);
                foreach (var t in reader.Tensors)
                {
                    if (t.DType is SafeTensorsDType.I64 or SafeTensorsDType.I32) reader.ReadInt64(t.Name);
                    else reader.ReadFloats(t.Name);
                }
                return reader;
            },
            e => e is InvalidDataException,
            (bytes, _) => SafeTensorsSpec.Check(bytes).Invalid is { } why ? $"loaded an invalid file ({why})" : null,
            (bytes, e) => SafeTensorsSpec.Check(bytes) is (null, true) ? $"refused a valid file: {e.Message}" : null);
    }

    // ---------------------------------------------------------------- config.json of a checkpoint

    public static FuzzTarget ModelConfigJson(string family)
    {
        var config = family == "gpt2"
            ? ModelConfig.Gpt2(vocab: 300, hidden: 8, layers: 1, heads: 2, maxPositions: 16) with { BosTokenId = 256, EosTokenId = 257, PadTokenId = 258 }
            : ModelConfig.Llama(vocab: 300, hidden: 8, layers: 1, heads: 2, maxPositions: 16, kvHeads: 1) with { EosTokenId = 257, RopeScaling = new RopeScaling("llama3", 8f, 1f, 4f, 16) };
        var model = CausalLanguageModel.Create(config, seed: 1);
        var source = Directory.CreateTempSubdirectory("reins-fuzz-model-").FullName;
        HfCheckpoint.Save(model, source);
        var weights = File.ReadAllBytes(Path.Combine(source, "model.safetensors"));
        var seed = File.ReadAllBytes(Path.Combine(source, "config.json"));
        Directory.Delete(source, recursive: true);
        return new FuzzTarget($"config-{family}", [seed], Mutations.JsonOrBytes,
            (dir, bytes) =>
            {
                PlaceFile(dir, bytes, "config.json");
                PlaceFile(dir, weights, "model.safetensors");
                return dir;
            },
            dir => HfCheckpoint.Load(dir),
            e => e is InvalidDataException,
            (_, loaded) => UsableModel((CausalLanguageModel)loaded));
    }

    // A loaded model must save and load back the same, and run: a config that loads but cannot is a silent failure.
    private static string? UsableModel(CausalLanguageModel model)
    {
        var again = Directory.CreateTempSubdirectory("reins-fuzz-roundtrip-").FullName;
        try
        {
            HfCheckpoint.Save(model, again);
            var reloaded = HfCheckpoint.Load(again);
            if (reloaded.Config != model.Config) return $"the config changed on a save and load: {model.Config} → {reloaded.Config}";
            using var tape = new Tape(recordGradients: false);
            int length = Math.Min(3, model.Config.MaxPositions);
            var logits = model.Logits(new ModelInput([.. Enumerable.Range(0, length).Select(i => i % model.Config.VocabSize)], 1, length)).ToArray();
            return logits.All(float.IsFinite) ? null : "the loaded model's logits are not finite";
        }
        finally { Directory.Delete(again, recursive: true); }
    }

    // ---------------------------------------------------------------- tokenizer.json

    private static readonly string[] Texts = ["hello world", "", " ", "naïve café — 東京 🤗", "<|bos|>x<|eos|>", "a\n\nb\t", "0123456789", "\u00A0\u200B"];

    public static FuzzTarget TokenizerJson()
    {
        var dir = Directory.CreateTempSubdirectory("reins-fuzz-tok-").FullName;
        byte[] Saved(Tokenizer t)
        {
            t.Save(dir);
            return File.ReadAllBytes(Path.Combine(dir, "tokenizer.json"));
        }
        var seeds = new List<byte[]>
        {
            Saved(Tokenizer.CreateByteLevel(264)),
            Saved(Tokenizer.TrainByteLevelBpe(["the cat sat on the mat", "the dog ate the hat", "naïve café"], 290, ["<|bos|>", "<|eos|>", "<|pad|>"])),
        };
        Directory.Delete(dir, recursive: true);
        return new FuzzTarget("tokenizer", seeds, Mutations.JsonOrBytes, (d, bytes) => PlaceFile(d, bytes, "tokenizer.json"),
            path =>
            {
                // Encoding and decoding belong to the load: a tokenizer accepted and then failing on a text is what is sought.
                var tokenizer = Tokenizer.Load(path);
                var encoded = Texts.Select(t => tokenizer.Encode(t, addSpecialTokens: true)).ToList();
                foreach (var ids in encoded) tokenizer.Decode(ids);
                return (tokenizer, encoded);
            },
            e => e is InvalidDataException,
            (_, result) =>
            {
                var (tokenizer, encoded) = ((Tokenizer, List<int[]>))result;
                return encoded.SelectMany(ids => ids).Any(id => id < 0 || id >= tokenizer.VocabSize) ? $"an id outside [0, {tokenizer.VocabSize})" : null;
            });
    }

    // ---------------------------------------------------------------- JSONL datasets

    public static FuzzTarget JsonlDataset()
    {
        byte[] File(params string[] lines) => Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));
        var seeds = new List<byte[]>
        {
            File("""{"prompt": "2+2=", "completion": "4"}""", """{"prompt": "Capital of France?", "completion": " Paris", "id": 7}""", ""),
            File("""{"prompt": "Q", "chosen": "good", "rejected": "bad"}""", """{"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go"}]}"""),
            File("""{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}""", """{"messages": [{"role": "user", "content": "é"}]}"""),
            File("""{"prompt": "Q", "completion": "A", "label": true}""", """{"prompt": "R", "completion": "B", "label": false}"""),
            File("""{"prompt": "only a prompt"}""", """{"prompt": [{"role": "user", "content": "a turn"}]}"""),
            File("""{"text": "a document"}""", """{"text": "another 🤗"}"""),
            File("""{"prompt": "9.8 or 9.11?", "completions": ["Compare 0.80 with 0.11.", "So 9.11."], "labels": [true, false]}"""),
            File("""{"prompt": "How do I pick a lock?", "response_0": "Here is how", "response_1": "I can't help", "is_response_0_safe": false, "is_response_1_safe": true, "better_response_id": 0, "safer_response_id": 1}"""),
            File("""{"prompt": "Q", "response": "A", "is_safe": true, "category": {"violence": false}}"""),
            File("""{"input": "Tom has 3. How many? Step 1: 3+2=5 ки\nStep 2: The answer is 5 ки", "label": "Tom has 3. How many? Step 1: 3+2=5 +\nStep 2: The answer is 5 +", "task": "GSM8K"}"""),
        };
        return new FuzzTarget("jsonl", seeds, Mutations.Lines, (dir, bytes) => PlaceFile(dir, bytes, "data.jsonl"),
            path => JsonlDatasetReader.Load<Example>(path),
            e => e is DatasetException,
            (bytes, result) =>
            {
                var lines = Mutations.SplitLines(bytes).Where(l => !(System.Text.Unicode.Utf8.IsValid(l) && string.IsNullOrWhiteSpace(Encoding.UTF8.GetString(l)))).ToList();
                if (lines.Any(l => !System.Text.Unicode.Utf8.IsValid(l))) return "read a line that is not UTF-8";
                int records = ((Dataset<Example>)result).Examples.Count;
                if (records != lines.Count) return $"{lines.Count} non-blank lines but {records} records, with no error";
                // Text a record holds was decoded, never replaced: U+FFFD only where the line wrote one, and no lone surrogate.
                bool wroteReplacement = Encoding.UTF8.GetString(bytes).Contains('\uFFFD') || Encoding.UTF8.GetString(bytes).Contains("\\ufffd", StringComparison.OrdinalIgnoreCase);
                foreach (var text in ((Dataset<Example>)result).Examples.SelectMany(e => StringsOf(e, 0)))
                {
                    if (text.Contains('\uFFFD') && !wroteReplacement) return "a record holds U+FFFD that the file did not write";
                    if (HasLoneSurrogate(text)) return "a record holds a lone surrogate";
                }
                return null;
            });
    }

    // ---------------------------------------------------------------- ProcessBench

    public static FuzzTarget ProcessBenchJsonl()
    {
        byte[] File(params string[] lines) => Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")));
        var seeds = new List<byte[]>
        {
            File("""{"id": "gsm8k-0", "generator": "Qwen2-7B-Instruct", "problem": "Tom has 3 apples and buys 2.", "steps": ["3 + 2 = 6.", "The answer is 6."], "final_answer_correct": false, "label": 0}""",
                """{"id": "gsm8k-1", "problem": "2+2?", "steps": ["4"], "label": -1}"""),
            File("""{"prompt": "q", "completions": ["a", "b", "c"], "label": 2}"""),
        };
        return new FuzzTarget("processbench", seeds, Mutations.Lines, (dir, bytes) => PlaceFile(dir, bytes, "bench.jsonl"),
            path => Reins.Rewards.Evaluation.ProcessBench.Read(path),
            e => e is InvalidDataException,
            (bytes, result) =>
            {
                var items = (IReadOnlyList<Reins.Rewards.Evaluation.ProcessBench.Item>)result;
                int lines = Mutations.SplitLines(bytes).Count(l => !(System.Text.Unicode.Utf8.IsValid(l) && string.IsNullOrWhiteSpace(Encoding.UTF8.GetString(l))));
                if (items.Count != lines) return $"{lines} non-blank lines but {items.Count} records, with no error";
                foreach (var item in items)
                {
                    if (item.Label < -1 || item.Label >= item.Record.Solution.Steps.Count) return $"label {item.Label} outside -1 … {item.Record.Solution.Steps.Count - 1}";
                    if (item.Record.Solution.Steps.Any(string.IsNullOrWhiteSpace)) return "an empty step was read";
                    if (StringsOf(item.Record.Solution, 0).Any(HasLoneSurrogate)) return "a record holds a lone surrogate";
                }
                return null;
            });
    }

    private static bool HasLoneSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i])) return true;
        }
        return false;
    }

    // Every string an example holds, through its records, lists and messages.
    private static IEnumerable<string> StringsOf(object? value, int depth) => value switch
    {
        null => [],
        string s => [s],
        _ when depth > 6 || value.GetType().IsPrimitive || value is JsonElement or System.Collections.IDictionary => [],
        System.Collections.IEnumerable items => items.Cast<object?>().SelectMany(i => StringsOf(i, depth + 1)),
        _ => value.GetType().GetProperties().Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract").SelectMany(p => StringsOf(p.GetValue(value), depth + 1)),
    };

    // ---------------------------------------------------------------- CLI config files

    public static FuzzTarget TrainerConfig<T>(string name) where T : ITrainerConfig, new()
    {
        var seed = Encoding.UTF8.GetBytes(ConfigBinder.ToJson(new T()).ToJsonString());
        return new FuzzTarget($"config-{name}", [seed], Mutations.JsonOrBytes, (dir, bytes) => PlaceFile(dir, bytes, "config.json"),
            path =>
            {
                var config = ConfigBinder.Resolve<T>(path, new Dictionary<string, string>());
                config.Validate();
                return ConfigBinder.ToJson(config).ToJsonString();
            },
            e => e is InvalidDataException or ArgumentException,
            (_, written) =>
            {
                // The settings a run would write to its config.json must read back as the same settings.
                var again = Path.Combine(Path.GetTempPath(), $"reins-fuzz-{name}-{Environment.ProcessId}.json");
                File.WriteAllText(again, (string)written);
                try { return ConfigBinder.ToJson(ConfigBinder.Resolve<T>(again, new Dictionary<string, string>())).ToJsonString() == (string)written ? null : "the resolved settings do not read back the same"; }
                finally { File.Delete(again); }
            });
    }

    /// <summary>Every target, with the cases each gets in CI.</summary>
    public static IEnumerable<(Func<FuzzTarget> Target, int Cases)> All() =>
    [
        (SafeTensors, 3000), (() => ModelConfigJson("gpt2"), 1000), (() => ModelConfigJson("llama"), 1000), (TokenizerJson, 2000),
        (JsonlDataset, 3000), (() => TrainerConfig<SftConfig>("sft"), 1000), (() => TrainerConfig<PpoConfig>("ppo"), 1000),
        (ProcessBenchJsonl, 1000), (() => TrainerConfig<Reins.Alignment.ProcessRewardModeling.PrmConfig>("prm"), 500),
        (() => TrainerConfig<Reins.Alignment.RewardModeling.CostConfig>("cm"), 500),
    ];
}
