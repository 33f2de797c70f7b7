using System.CommandLine;
using Reins.Models.Tokenizers;

namespace Reins.Cli.Commands;

/// <summary>`reins tokenizer …`: make tokenizers (train a byte-level BPE, or the plain byte-level one for fresh models).</summary>
internal static class TokenizerCommand
{
    public static Command Create()
    {
        var tokenizer = new Command("tokenizer", "Train or create tokenizers (written as tokenizer.json + tokenizer_config.json).");

        var corpus = new Option<string>("--corpus") { Description = "Text file with one document per line, or JSONL with a \"text\" field.", Required = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Total ids: 256 bytes + special tokens + merges.", Required = true };
        var outDir = new Option<string>("--out") { Description = "Directory to write the tokenizer to.", Required = true };
        var specials = new Option<string>("--special-tokens") { Description = "Comma-separated special tokens, given ids 256, 257, ….", DefaultValueFactory = _ => "<|endoftext|>" };
        var train = new Command("train", "Train a GPT-2-style byte-level BPE on a corpus.") { corpus, vocabSize, outDir, specials };
        train.SetAction(r =>
        {
            var names = r.GetValue(specials)!.Split(',', StringSplitOptions.RemoveEmptyEntries);
            var trained = Tokenizer.TrainByteLevelBpe(TrainingCorpus.ReadDocuments(r.GetValue(corpus)!), r.GetValue(vocabSize), names);
            trained.Save(r.GetValue(outDir)!);
            Console.Error.WriteLine($"tokenizer train: {trained.VocabSize} ids written to {Path.GetFullPath(r.GetValue(outDir)!)}");
            return 0;
        });
        tokenizer.Add(train);

        var byteVocab = new Option<int>("--vocab-size") { Description = "Total ids (at least 259); ids past the bytes and specials are unused placeholders.", DefaultValueFactory = _ => 259 };
        var byteOut = new Option<string>("--out") { Description = "Directory to write the tokenizer to.", Required = true };
        var byteLevel = new Command("byte-level", "Write the byte-level tokenizer used by randomly initialised models.") { byteVocab, byteOut };
        byteLevel.SetAction(r =>
        {
            Tokenizer.CreateByteLevel(r.GetValue(byteVocab)).Save(r.GetValue(byteOut)!);
            return 0;
        });
        tokenizer.Add(byteLevel);
        return tokenizer;
    }
}
