#!/usr/bin/env bash
# Every complete model shown in the reference documents must pass `vmc check`.
#   tests/docs_examples.sh VMC FILE.md...      (e.g. build/compiler/vmc compiler/driver/reference/*.md)
#
# A complete model is a ```vmodel fenced block whose first line that is neither blank nor a
# `//` comment is `model NAME;`. Other ```vmodel blocks are fragments and are not checked;
# ```vmodel-pending blocks (features still being implemented) are never checked. A block whose
# first line is `// vmc-args: ARGS` is checked with `vmc check ARGS FILE` (as in tests/golden),
# e.g. `// vmc-args: --guide meanfield` for a model without a guide block.
# Exit status: 0 when every model passes, 1 when one fails (each failure names the markdown
# file and the line of its block's opening fence), 2 on a usage error.
set -u

if [ $# -lt 2 ]; then
  echo "usage: $0 VMC FILE.md..." >&2
  exit 2
fi
vmc=$1
shift
if [ ! -x "$vmc" ]; then
  echo "$0: '$vmc' is not an executable vmc" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmc-docs-examples.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

checked=0
failed=0
for md in "$@"; do
  if [ ! -r "$md" ]; then
    echo "$0: cannot read '$md'" >&2
    exit 2
  fi
  # Split the file's ```vmodel blocks into $tmp/block.N.vmodel, and list "N LINE ARGS" for each
  # complete model (LINE: the opening fence's line in the markdown file).
  rm -f "$tmp"/block.* "$tmp/list"
  awk -v dir="$tmp" '
    function flush() {
      if (complete) printf "%d %d %s\n", n, start, args > (dir "/list")
      close(file)
    }
    {
      sub(/\r$/, "")
    }
    !inside && /^[ \t]*```vmodel[ \t]*$/ {
      inside = 1; n++; start = NR; seen = 0; complete = 0; args = ""; first = 1
      file = dir "/block." n ".vmodel"
      printf "" > file
      next
    }
    inside && /^[ \t]*```[ \t]*$/ {
      inside = 0; flush(); next
    }
    inside {
      print > file
      if (first && match($0, /^[ \t]*\/\/[ \t]*vmc-args:/)) args = substr($0, RSTART + RLENGTH)
      first = 0
      if (!seen && $0 !~ /^[ \t]*$/ && $0 !~ /^[ \t]*\/\//) {
        seen = 1
        complete = ($0 ~ /^[ \t]*model[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*;/)
      }
    }
    END {
      if (inside) {
        printf "%s:%d: the ```vmodel block opened here is never closed\n", FILENAME, start > "/dev/stderr"
        exit 1
      }
    }
  ' "$md" || { failed=$((failed + 1)); continue; }
  [ -f "$tmp/list" ] || continue
  while read -r n line args; do
    src="$tmp/block.$n.vmodel"
    checked=$((checked + 1))
    # shellcheck disable=SC2086  # the block's own arguments, split into words
    if ! out=$("$vmc" check $args "$src" 2>&1 </dev/null); then
      echo "FAILED: $md:$line: the model in the \`\`\`vmodel block at line $line does not pass 'vmc check${args:+ $args}':"
      printf '%s\n' "$out" | sed "s|$src|$md (block at line $line)|g; s/^/    /"
      failed=$((failed + 1))
    fi
  done < "$tmp/list"
done

echo "checked $checked model(s) in $# file(s); $failed failed"
[ "$failed" -eq 0 ] || exit 1
exit 0
