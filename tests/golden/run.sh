#!/usr/bin/env bash
# Golden transcript tests (after stanc3): each input sits beside a file holding exactly what vmc
# prints for it (stdout and stderr together) and, on its last line, `[exit N]`.
#
#   tests/golden/run.sh VMC [--update] [INPUT ...]     (run from the source root)
#
# With no INPUT, runs every golden input. --update (or VMC_UPDATE_GOLDEN=1) rewrites the
# expected files instead of comparing; review the change with `git diff`.
#
# Which command runs depends on the folder:
#   tests/golden/**/X.vmodel   vmc check X.vmodel    -> beside it, X.expected
#   tests/golden/llvm/X.vmodel vmc emit llvm --precision f64 X.vmodel -> beside it, X.expected
#   tests/golden/fit/X.vmodel  vmc fit --data X.data.json --out TMP -q X.vmodel -> X.expected
#                              (what a fit says before and after training: its errors, warnings)
#                              (unoptimised, so target-independent: no host CPU in the text)
#   stdlib/X.vmodel            vmc emit ast ...      -> tests/golden/stdlib/X.ast.expected
#                              vmc check ...         -> tests/golden/stdlib/X.check.expected
#     and, with the dims given by tests/golden/stdlib/X.args (one line of arguments):
#                              vmc emit ir ARGS ...  -> tests/golden/stdlib/X.ir.expected
#                              vmc emit grad ARGS ... -> tests/golden/stdlib/X.grad.expected
# A first line `// vmc-args: ARGS` in an input adds ARGS to its command.
set -u
vmc=$1; shift
update=${VMC_UPDATE_GOLDEN:-0}
if [ "${1:-}" = "--update" ]; then update=1; shift; fi

inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
  mapfile -t inputs < <(find tests/golden stdlib -name '*.vmodel' | sort)
fi

failed=0
check_one() {  # expected-file, command...
  local expected=$1; shift
  local actual
  actual=$(timeout 60 "$@" 2>&1; echo "[exit $?]")
  if [ "$update" = 1 ]; then
    printf '%s\n' "$actual" > "$expected"
    return
  fi
  if [ ! -f "$expected" ]; then
    echo "missing expected output $expected (run with --update to create it)"
    failed=1
    return
  fi
  if ! diff -u "$expected" <(printf '%s\n' "$actual"); then
    echo "FAILED: $* (expected output in $expected)"
    failed=1
  fi
}

for input in "${inputs[@]}"; do
  args=()
  first=$(head -n 1 "$input")
  if [[ $first == "// vmc-args: "* ]]; then read -r -a args <<< "${first#// vmc-args: }"; fi
  base=${input%.vmodel}
  case "$input" in
    stdlib/*)
      base=tests/golden/stdlib/$(basename "$base")
      check_one "$base.ast.expected" "$vmc" emit ast "$input"
      check_one "$base.check.expected" "$vmc" check "${args[@]}" "$input"
      if [ -f "$base.args" ]; then
        read -r -a dims < "$base.args"
        check_one "$base.ir.expected" "$vmc" emit ir "${dims[@]}" "$input"
        check_one "$base.grad.expected" "$vmc" emit grad "${dims[@]}" "$input"
      fi
      ;;
    tests/golden/fit/*)
      tmp=$(mktemp -d)
      check_one "$base.expected" "$vmc" fit "${args[@]}" --data "$base.data.json" --out "$tmp/out" -q "$input"
      rm -rf "$tmp"
      ;;
    tests/golden/llvm/*)
      check_one "$base.expected" "$vmc" emit llvm --precision f64 "${args[@]}" "$input"
      ;;
    *)
      check_one "$base.expected" "$vmc" check "${args[@]}" "$input"
      ;;
  esac
done
exit $failed
