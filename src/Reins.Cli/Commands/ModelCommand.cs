using System.CommandLine;
using System.Globalization;
using System.Text;
using Reins.Models.Checkpoints;
using Reins.Models.Peft;
using Reins.Models.Tokenizers;
using Reins.Models.Transformers;
using Reins.Tensors;

namespace Reins.Cli.Commands;

/// <summary>`reins model init` (a randomly initialised HF checkpoint), `reins model forward` (logits as JSON) and `reins model convert` (another dtype).</summary>
internal static class ModelCommand
{
    public static Command Create()
    {
        var model = new Command("model", "Create and inspect Hugging Face checkpoints.");
        model.Add(Init());
        model.Add(Forward());
        model.Add(Convert());
        model.Add(Merge());
        return model;
    }

    private static Command Init()
    {
        var arch = new Option<string>("--arch") { Description = "gpt2 or llama.", Required = true };
        var vocab = new Option<int?>("--vocab-size") { Description = "Vocabulary size (default: the tokenizer's; with no tokenizer a byte-level one of this size is written: 256 bytes + BOS, EOS, PAD, so ≥ 259)." };
        var hidden = new Option<int>("--hidden") { Description = "Width of the residual stream.", Required = true };
        var layers = new Option<int>("--layers") { Description = "Transformer blocks.", Required = true };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", Required = true };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Key/value heads (Llama; default = heads)." };
        var intermediate = new Option<int?>("--intermediate") { Description = "MLP width (default 4·hidden for GPT-2; ⌈8·hidden/3⌉ rounded up to 64 for Llama)." };
        var positions = new Option<int>("--max-positions") { Description = "Longest sequence.", DefaultValueFactory = _ => 1024 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "A tokenizer.json (or a directory holding one) to ship with the model." };
        var seed = CommonOptions.Seed();
        var output = new Option<string>("--out") { Description = "Checkpoint directory to write.", Required = true };
        var cmd = new Command("init", "Write a randomly initialised checkpoint (config.json, model.safetensors, generation_config.json, tokenizer).")
            { arch, vocab, hidden, layers, heads, kvHeads, intermediate, positions, tokenizer, seed, output };
        cmd.SetAction(r =>
        {
            var tok = r.GetValue(tokenizer) is { } path ? Tokenizer.Load(path) : null;
            int v = r.GetValue(vocab) ?? tok?.VocabSize ?? throw new ArgumentException("model init: give --vocab-size or --tokenizer.");
            if (tok is not null && v < tok.VocabSize)
                throw new ArgumentException($"model init: --vocab-size {v} is smaller than the tokenizer's {tok.VocabSize} tokens.");
            tok ??= Tokenizer.CreateByteLevel(v);
            var config = r.GetValue(arch) switch
            {
                "gpt2" => ModelConfig.Gpt2(v, r.GetValue(hidden), r.GetValue(layers), r.GetValue(heads), r.GetValue(positions), r.GetValue(intermediate)),
                "llama" => ModelConfig.Llama(v, r.GetValue(hidden), r.GetValue(layers), r.GetValue(heads), r.GetValue(positions), r.GetValue(kvHeads), r.GetValue(intermediate)),
                var other => throw new ArgumentException($"model init: --arch '{other}' is not one of gpt2, llama."),
            };
            if (config.Family == ModelFamily.Gpt2 && r.GetValue(kvHeads) is { } k && k != config.Heads)
                throw new ArgumentException("model init: GPT-2 has no grouped-query attention; --kv-heads must equal --heads.");
            config = config with { BosTokenId = tok.BosId, EosTokenId = tok.EosId, PadTokenId = tok.PadId };
            var m = CausalLanguageModel.Create(config, r.GetValue(seed));
            HfCheckpoint.Save(m, r.GetValue(output)!, tok.Save);
            Console.Error.WriteLine($"model init: {config.Architecture}, {m.ParameterCount:N0} parameters, vocabulary {v} → {r.GetValue(output)}");
        });
        return cmd;
    }

    private static Command Forward()
    {
        var dir = new Option<string>("--model") { Description = "Checkpoint directory.", Required = true };
        var ids = new Option<string>("--token-ids") { Description = "Comma-separated token ids, e.g. 1,2,3.", Required = true };
        var threads = CommonOptions.Threads();
        var cmd = new Command("forward", "Print {\"logits\":[[…],…]} (one row per position) for a sequence of token ids.") { dir, ids, threads };
        cmd.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var model = HfCheckpoint.Load(r.GetValue(dir)!);
            var tokens = r.GetValue(ids)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select((s, i) =>
                int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int t) && t >= 0 && t < model.Config.VocabSize ? t
                    : throw new ArgumentException($"--token-ids: item {i + 1} ('{s}') is not a token id in [0, {model.Config.VocabSize}).")).ToArray();
            if (tokens.Length == 0) throw new ArgumentException("--token-ids: no ids given.");
            using var tape = new Tape(recordGradients: false);
            var logits = model.Logits(ModelInput.Of(tokens)).Span;
            int v = model.Config.VocabSize;
            var sb = new StringBuilder("{\"logits\":[");
            for (int t = 0; t < tokens.Length; t++)
            {
                sb.Append(t == 0 ? "[" : ",[");
                for (int j = 0; j < v; j++)
                {
                    if (j > 0) sb.Append(',');
                    sb.Append(logits[t * v + j].ToString("R", CultureInfo.InvariantCulture));
                }
                sb.Append(']');
            }
            Console.Out.WriteLine(sb.Append("]}").ToString());
        });
        return cmd;
    }

    private static Command Convert()
    {
        var dir = new Option<string>("--model") { Description = "Checkpoint directory (safetensors of F32, F16 or BF16 weights).", Required = true };
        var output = new Option<string>("--out") { Description = "Checkpoint directory to write.", Required = true };
        var dtype = new Option<string>("--torch-dtype") { Description = "float32, or bfloat16 (rounded to nearest even, as torch; half the size, as most Hub checkpoints).", Required = true };
        dtype.AcceptOnlyFromAmong("float32", "bfloat16");
        var cmd = new Command("convert", "Write a checkpoint's weights in another dtype, with its config (torch_dtype), tokenizer and other files copied.") { dir, output, dtype };
        cmd.SetAction(r =>
        {
            string from = r.GetValue(dir)!;
            var model = HfCheckpoint.Load(from);
            var weights = r.GetValue(dtype) == "bfloat16" ? SafeTensorsDType.BF16 : SafeTensorsDType.F32;
            HfCheckpoint.Save(model, r.GetValue(output)!, staging => CopyCompanionFiles(from, staging), weights);
            Console.Error.WriteLine($"model convert: {from} → {r.GetValue(output)} ({r.GetValue(dtype)})");
        });
        return cmd;
    }

    // Everything beside the weights and the configs a save writes (tokenizer, reward statistics, chat template) goes along.
    private static void CopyCompanionFiles(string from, string staging)
    {
        foreach (var file in Directory.GetFiles(from))
        {
            string name = Path.GetFileName(file);
            if (!name.EndsWith(".safetensors", StringComparison.Ordinal) && name is not ("model.safetensors.index.json" or "config.json" or "generation_config.json" or PeftCheckpoint.ConfigFile)
                && !File.Exists(Path.Combine(staging, name)))
                File.Copy(file, Path.Combine(staging, name));
        }
    }

    private static Command Merge()
    {
        var adapter = new Option<string>("--adapter") { Description = "PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors), e.g. a run of any trainer with --use-peft.", Required = true };
        var baseModel = new Option<string?>("--base") { Description = "Base checkpoint directory (default: the adapter's base_model_name_or_path)." };
        var output = new Option<string>("--out") { Description = "Checkpoint directory to write.", Required = true };
        var cmd = new Command("merge", "Merge a LoRA adapter into its base (W + alpha/r·B·A) and write a full checkpoint that needs neither PEFT nor the base, with the adapter's tokenizer (else the base's) and other files.") { adapter, baseModel, output };
        cmd.SetAction(r =>
        {
            string from = r.GetValue(adapter)!;
            if (!PeftCheckpoint.IsAdapter(from)) throw new ArgumentException($"--adapter: {from} holds no PEFT adapter ({PeftCheckpoint.ConfigFile} without model weights).");
            string basePath = r.GetValue(baseModel) ?? PeftCheckpoint.BaseDirectory(from);
            var model = PeftCheckpoint.LoadMerged(from, HfCheckpoint.Load, basePath);
            HfCheckpoint.Save(model, r.GetValue(output)!, staging =>
            {
                CopyCompanionFiles(from, staging);
                if (!PeftCheckpoint.IsAdapter(basePath)) CopyCompanionFiles(basePath, staging);
            });
            Console.Error.WriteLine($"model merge: {from} on {basePath} → {r.GetValue(output)} ({model.Config.Architecture}, {model.ParameterCount:N0} parameters)");
        });
        return cmd;
    }
}
