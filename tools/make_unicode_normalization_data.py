#!/usr/bin/env python3
"""Writes the Unicode normalization tables our NFC/NFD/NFKC/NFKD use, and a conformance-test fixture.

.NET's string.Normalize does nothing under InvariantGlobalization (which this repository turns on), so
Reins.Models carries its own tables: src/Reins.Models/Tokenizers/UnicodeNormalizationData.txt.gz, one line per
code point with a non-zero combining class or a decomposition:  CODE;CCC;[K|C|X];DECOMPOSITION
(K compatibility mapping, C canonical, X canonical but excluded from composition; code points in hex).

Source: Debian's unicode-data package (apt-get install unicode-data), /usr/share/unicode/.
The fixture tests/fixtures/tokenizers/NormalizationTest.sample.txt.gz keeps parts 0, 2 and 3 of the Unicode
conformance file NormalizationTest.txt and every 8th line of part 1.
"""
import bz2
import gzip
import os

UCD = "/usr/share/unicode"
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

exclusions = set()
for line in open(os.path.join(UCD, "DerivedNormalizationProps.txt"), encoding="utf-8"):
    fields = [f.strip() for f in line.split("#")[0].split(";")]
    if len(fields) >= 2 and fields[1] == "Full_Composition_Exclusion":
        lo, _, hi = fields[0].partition("..")
        exclusions.update(range(int(lo, 16), int(hi or lo, 16) + 1))

rows = []
for line in open(os.path.join(UCD, "UnicodeData.txt"), encoding="utf-8"):
    f = line.split(";")
    code, ccc, decomposition = int(f[0], 16), int(f[3]), f[5]
    if ccc == 0 and not decomposition:
        continue
    kind, mapping = "", ""
    if decomposition:
        parts = decomposition.split()
        if parts[0].startswith("<"):
            kind, mapping = "K", " ".join(parts[1:])
        else:
            kind, mapping = ("X" if code in exclusions else "C"), " ".join(parts)
    rows.append(f"{code:X};{ccc};{kind};{mapping}")

data = "\n".join(rows) + "\n"
with gzip.open(os.path.join(REPO, "src/Reins.Models/Tokenizers/UnicodeNormalizationData.txt.gz"), "wt", encoding="utf-8", compresslevel=9) as out:
    out.write(data)

kept, part, index = [], None, 0
for line in bz2.open(os.path.join(UCD, "NormalizationTest.txt.bz2"), "rt", encoding="utf-8"):
    if line.startswith("@Part"):
        part, index = line.split()[0], 0
        kept.append(line)
        continue
    if line.startswith("#") or not line.strip():
        continue
    index += 1
    if part != "@Part1" or index % 8 == 0:
        kept.append(line)
with gzip.open(os.path.join(REPO, "tests/fixtures/tokenizers/NormalizationTest.sample.txt.gz"), "wt", encoding="utf-8", compresslevel=9) as out:
    out.writelines(kept)
print(f"{len(rows)} table rows, {len(kept)} test lines")
