#!/usr/bin/env bash
# `gradscope convert` on bad input: each case exits 3 (bad data) or 2 (a
# wrong call) with one line naming the file and where (CSV: line and column;
# NPY: the header field), and leaves neither OUT.h5 nor OUT.h5.tmp behind,
# including failures found after the output was begun (a NaN in the last
# row, a corrupt deflated member). --help prints usage to stdout and exits 0.
. "$(dirname "$0")/lib.sh"
W=$WORK
OUT=$W/out.h5

# bad STATUS PATTERN LABEL -- convert-args... : the conversion must fail so
bad() {
  local want=$1 pat=$2 label=$3; shift 4
  rm -f "$OUT" "$OUT.tmp"
  out=$("$GS" convert "$@" 2> "$W/err"); rc=$?
  local err; err=$(cat "$W/err")
  if [ "$rc" -ne "$want" ]; then fail "$label: exit $rc, expected $want: $err"; return; fi
  if ! grep -qE -- "$pat" <<< "$err"; then fail "$label: message does not match /$pat/: $err"; return; fi
  if [ "$want" -eq 3 ] && [ "$(wc -l <<< "$err")" -ne 1 ]; then fail "$label: not one line: $err"; return; fi
  if [ -e "$OUT" ] || [ -e "$OUT.tmp" ]; then fail "$label: output left behind: $(ls "$W" | grep out.h5)"; return; fi
  [ -z "$out" ] || { fail "$label: printed to stdout: $out"; return; }
  pass "$label ($rc): $(head -1 <<< "$err" | cut -c1-220)"
}

# ---- CSV ------------------------------------------------------------------
csv() { cat > "$W/$1"; }
csv ragged_short.csv <<'EOF'
a,b,c
1,2,3
4,5
EOF
bad 3 "ragged_short.csv' line 3, column 2 \(\"c\"\): a ragged row: 2 fields where line 1 has 3" "csv: a short row" \
  -- csv "$W/ragged_short.csv" "$OUT"
csv ragged_long.csv <<'EOF'
a,b,c
1,2,3
4,5,6

7,8,9,10
EOF
bad 3 "ragged_long.csv' line 5, column 3: a ragged row: 4 fields where line 1 has 3" "csv: a long row after a blank line" \
  -- csv "$W/ragged_long.csv" "$OUT"
csv nonnum.csv <<'EOF'
x1,x2,label
1.5,2,a
0.5,abc,b
EOF
bad 3 "nonnum.csv' line 3, column 1 \(\"x2\"\): \"abc\" is not a number" "csv: a non-numeric feature" \
  -- csv "$W/nonnum.csv" "$OUT"
csv emptycell.csv <<'EOF'
x1,x2,label
1.5,,a
EOF
bad 3 "emptycell.csv' line 2, column 1 \(\"x2\"\): empty cell" "csv: an empty feature cell" -- csv "$W/emptycell.csv" "$OUT"
csv nan.csv <<'EOF'
x1,x2,label
1.5,nan,a
EOF
bad 3 "nan.csv' line 2, column 1 \(\"x2\"\): \"nan\" is not a finite float32" "csv: NaN feature" -- csv "$W/nan.csv" "$OUT"
csv big.csv <<'EOF'
x1,x2,label
1.5,1e39,a
EOF
bad 3 "big.csv' line 2, column 1 .*\"1e39\" is not a finite float32" "csv: a feature outside float32" -- csv "$W/big.csv" "$OUT"
: > "$W/empty.csv"
bad 3 "CSV file '.*empty.csv' is empty" "csv: an empty file" -- csv "$W/empty.csv" "$OUT"
printf '\n\n  \n' > "$W/blank.csv"
bad 3 "blank.csv' is empty" "csv: only blank lines" -- csv "$W/blank.csv" "$OUT"
printf 'a,b,label\n' > "$W/header.csv"
bad 3 "header.csv' has a header line but no data rows" "csv: header only" -- csv "$W/header.csv" "$OUT"
printf 'a,b,label\n1,2,3\n' > "$W/ok.csv"
bad 3 "ok.csv' line 1: no column named \"species\"; the header has \"a\", \"b\", \"label\"" "csv: a missing label name" \
  -- csv "$W/ok.csv" "$OUT" --label species
bad 3 "ok.csv': label column 5 does not exist: line 1 has 3 columns" "csv: a label index out of range" \
  -- csv "$W/ok.csv" "$OUT" --label 5
bad 3 "ok.csv': no label column \"b\": with --no-header" "csv: a label name without a header" \
  -- csv "$W/ok.csv" "$OUT" --label b --no-header
printf 'a;b;label\n1;2;3\n' > "$W/semi.csv"
bad 3 "semi.csv' line 1: one column.*delimiter ','" "csv: the wrong delimiter" -- csv "$W/semi.csv" "$OUT"
printf 'a,b\n1,2"x\n' > "$W/quote.csv"
bad 3 "quote.csv' line 2, column 1 \(\"b\"\): a '\"' inside an unquoted field" "csv: a stray quote" \
  -- csv "$W/quote.csv" "$OUT"
printf 'a,b\n1,"2\n3,4\n' > "$W/open.csv"
bad 3 "open.csv' line 2, column 1 \(\"b\"\): a quoted field is never closed" "csv: an unclosed quote" \
  -- csv "$W/open.csv" "$OUT"
"$PY" -c "
with open('$W/many.csv', 'w') as f:
    f.write('x,label\n')
    for i in range(70000): f.write(f'{i},{i}\n' if i < 5 else f'{i},id{i}\n')"
bad 3 "many.csv', label column 1: more than 65536 distinct labels .*line 7 has \"id5\"" "csv: a label column of ids" \
  -- csv "$W/many.csv" "$OUT"
bad 3 "cannot open CSV file '.*nope.csv': No such file" "csv: a missing file" -- csv "$W/nope.csv" "$OUT"
# quoted delimiters and line breaks are data, not errors
printf 'a,b,label\n"1",2,"x,\ny"\n' > "$W/goodquote.csv"
"$GS" convert csv "$W/goodquote.csv" "$W/gq.h5" > /dev/null 2>&1 && pass "csv: a quoted delimiter and line break parse" \
  || fail "csv: quoted delimiter and line break refused"

# ---- NPY ------------------------------------------------------------------
"$PY" - "$W" <<'PYEOF'
import sys, struct, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(5)
X = rng.random((20, 3)); y = np.arange(20) % 3
np.save(f"{w}/X.npy", X); np.save(f"{w}/y.npy", y)
np.save(f"{w}/complex.npy", X.astype(np.complex128))
np.save(f"{w}/object.npy", np.array([None] * 20, dtype=object), allow_pickle=True)
np.save(f"{w}/bigend.npy", X.astype(">f8"))
np.save(f"{w}/strings.npy", np.array(["a"] * 20))
np.save(f"{w}/half.npy", X.astype(np.float16))
np.save(f"{w}/fortran.npy", np.asfortranarray(X))
np.save(f"{w}/y19.npy", y[:19])
np.save(f"{w}/y3d.npy", y.reshape(20, 1, 1))
np.save(f"{w}/x1d.npy", X[:, 0])
Xn = X.copy(); Xn[19, 2] = np.nan; np.save(f"{w}/xnan.npy", Xn)
np.save(f"{w}/xhuge.npy", np.full((20, 3), 1e300))
raw = open(f"{w}/X.npy", "rb").read()
open(f"{w}/trunc.npy", "wb").write(raw[:-8])
open(f"{w}/long.npy", "wb").write(raw + b"\0" * 8)
open(f"{w}/magic.npy", "wb").write(b"\x93NUMPZ" + raw[6:])
open(f"{w}/version.npy", "wb").write(raw[:6] + b"\x04\x00" + raw[8:])
hlen = struct.unpack("<H", raw[8:10])[0]
def with_header(name, text):
    text = text.ljust(hlen - 1) + "\n"
    assert len(text) == hlen
    open(f"{w}/{name}", "wb").write(raw[:10] + text.encode() + raw[10 + hlen:])
with_header("garbage.npy", "not a dict")
with_header("nokey.npy", "{'descr': '<f8', 'fortran_order': False}")
with_header("badshape.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (20, x), }")
with_header("extrakey.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (20, 3), 'z': 1}")
with_header("structured.npy", "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (20, 3), }")
open(f"{w}/header.npy", "wb").write(raw[:40])
np.savez(f"{w}/arrays.npz", X=X, labels=y)
np.savez(f"{w}/truncmember.npz", X=np.frombuffer(raw[:-8], dtype=np.uint8), y=y)
np.savez_compressed(f"{w}/crc.npz", X=X, y=y)
PYEOF
# the truncated member: X.npy inside the archive holds trunc.npy's bytes
"$PY" -c "
import zipfile
with zipfile.ZipFile('$W/truncmember.npz', 'w') as z:
    z.writestr('X.npy', open('$W/trunc.npy', 'rb').read()); z.writestr('y.npy', open('$W/y.npy', 'rb').read())
# a corrupt deflated member: flip a byte in the middle of X's compressed data
raw = bytearray(open('$W/crc.npz', 'rb').read())
z = zipfile.ZipFile('$W/crc.npz'); i = z.getinfo('X.npy')
start = i.header_offset + 30 + len(i.filename) + len(i.extra)
raw[start + i.compress_size // 2] ^= 0xff
open('$W/crc.npz', 'wb').write(raw)"

npy() { bad 3 "$1" "$2" -- npy "$W/$3" "$W/${4:-y.npy}" "$OUT"; }
DT="supported are float32, float64, int8-64, uint8-64 and bool, little-endian"
npy "complex.npy': header field 'descr' is '<c16' \(complex numbers\): $DT" "npy: complex" complex.npy
npy "object.npy': header field 'descr' is '\|O' \(Python objects" "npy: object" object.npy
npy "bigend.npy': header field 'descr' is '>f8' \(big-endian" "npy: big-endian" bigend.npy
npy "strings.npy': header field 'descr' is '<U1' \(strings\)" "npy: strings" strings.npy
npy "half.npy': header field 'descr' is '<f2' \(float16\)" "npy: float16" half.npy
npy "structured.npy': header field 'descr' is a list \(a structured dtype\)" "npy: structured dtype" structured.npy
npy "fortran.npy': header field 'fortran_order' is True: the array is in Fortran" "npy: Fortran order" fortran.npy
npy "magic.npy': not an NPY file.*corrupt header" "npy: a bad magic string" magic.npy
npy "version.npy': corrupt header: format version 4.0" "npy: an unknown format version" version.npy
npy "garbage.npy': corrupt header: not a Python dict" "npy: a header that is not a dict" garbage.npy
npy "nokey.npy': corrupt header: header field 'shape' is missing" "npy: a missing header field" nokey.npy
npy "badshape.npy': corrupt header: header field 'shape' is not a tuple of integers" "npy: a bad shape" badshape.npy
npy "extrakey.npy': corrupt header: header field 'z' is not one of" "npy: an unknown header field" extrakey.npy
npy "header.npy': corrupt header: the file ends in the header" "npy: cut inside the header" header.npy
npy "y19.npy': header field 'shape' is \(19,\): N = 19 rows, but X has N = 20" "npy: X and Y of different N" X.npy y19.npy
npy "y3d.npy': header field 'shape' is \(20, 1, 1\): Y must be \[N\] labels or \[N, K\] targets" "npy: Y of 3 dimensions" \
  X.npy y3d.npy
npy "x1d.npy': header field 'shape' is \(20,\): X needs at least 2 dimensions" "npy: X of 1 dimension" x1d.npy
npy "trunc.npy': the data section is truncated: shape \(20, 3\) of '<f8' needs 480 bytes, found 472" "npy: truncated data" \
  trunc.npy
npy "long.npy': longer than its header says: .* 480 bytes of data, found 488" "npy: trailing bytes" long.npy
npy "xnan.npy': element \[19, 2\] is nan: training refuses NaN and Inf" "npy: NaN in the last row (a late failure)" xnan.npy
npy "xhuge.npy': element \[0, 0\] is 1e\+300, outside float32's range" "npy: float64 outside float32" xhuge.npy
bad 3 "cannot open NPY file '.*nope.npy'" "npy: a missing file" -- npy "$W/nope.npy" "$W/y.npy" "$OUT"

# ---- NPZ ------------------------------------------------------------------
bad 3 "NPZ file '.*arrays.npz' has no array 'y' \(nor 'Y'\); it holds 'X', 'labels'" "npz: no default y" \
  -- npz "$W/arrays.npz" "$OUT"
bad 3 "NPZ file '.*arrays.npz' has no array 'target'; it holds 'X', 'labels'" "npz: no array named by --y" \
  -- npz "$W/arrays.npz" "$OUT" --y target
bad 3 "NPZ file '.*truncmember.npz', array 'X': the data section is truncated" "npz: a truncated member" \
  -- npz "$W/truncmember.npz" "$OUT"
bad 3 "NPZ file '.*crc.npz', array 'X': cannot read the data: .*(CRC|Zlib|zlib)" "npz: a corrupt deflated member (a late failure)" \
  -- npz "$W/crc.npz" "$OUT"
bad 3 "cannot open NPZ file '.*X.npy': Not a zip archive" "npz: not a zip" -- npz "$W/X.npy" "$OUT"

# ---- the command line -----------------------------------------------------
help() { # LABEL PATTERN args... : exit 0, usage on stdout, nothing on stderr
  local label=$1 pat=$2; shift 2
  out=$("$GS" "$@" 2> "$W/err"); rc=$?
  if [ "$rc" -eq 0 ] && grep -qE -- "$pat" <<< "$out" && [ ! -s "$W/err" ]; then pass "$label"
  else fail "$label: exit $rc, stdout: $(head -2 <<< "$out"), stderr: $(cat "$W/err")"; fi
}
help "convert --help" "gradscope convert csv IN.csv OUT.h5 \[--label COLUMN\]" convert --help
help "convert csv --help" "usage: gradscope convert csv IN.csv OUT.h5.*--no-header" convert csv --help
help "convert npy -h" "usage: gradscope convert npy X.npy Y.npy OUT.h5" convert npy -h
help "convert npz --help" "usage: gradscope convert npz FILE.npz OUT.h5 \[--x NAME\] \[--y NAME\]" convert npz --help
help "convert idx --help" "usage: gradscope convert idx IMAGES LABELS OUT.h5" convert idx --help
help "gradscope --help lists the converters" "convert npz FILE.npz OUT.h5" --help
bad 2 "no format given" "usage: no format" -- 
bad 2 "unknown format 'xls'" "usage: unknown format" -- xls a b
bad 2 "convert csv: 1 file given, expected 2" "usage: csv with one file" -- csv "$W/ok.csv"
bad 2 "--label needs a value" "usage: --label without a value" -- csv "$W/ok.csv" "$OUT" --label
bad 2 "unknown option '--frobnicate'" "usage: an unknown option" -- csv "$W/ok.csv" "$OUT" --frobnicate
bad 2 "--delimiter ';;'" "usage: a two-character delimiter" -- csv "$W/ok.csv" "$OUT" --delimiter ';;'
bad 2 "unknown option '--x'" "usage: --x is for npz" -- npy "$W/X.npy" "$W/y.npy" "$OUT" --x X
bad 2 "convert npy: 2 files given, expected 3" "usage: npy with two files" -- npy "$W/X.npy" "$OUT"
cp "$W/ok.csv" "$W/keep.csv"
bad 2 "the output '.*keep.csv' is an input" "usage: the output is the input file" -- csv "$W/keep.csv" "$W/keep.csv"
cmp -s "$W/ok.csv" "$W/keep.csv" && pass "the input is left as it was" || fail "the input was replaced"
"$GS" convert csv "$W/ok.csv" 2>&1 >/dev/null | grep -q "usage: gradscope convert csv" \
  && pass "a wrong call prints the usage to stderr" || fail "no usage on stderr for a wrong call"
finish
