#!/bin/sh
# tests/embed/footprint.sh SIZE-TOOL FILE...: each file's initialised data (.data and friends, which
# sit in the file) stays under 256 KiB and its loaded text + data under 1 MiB. (Debug sections are
# not counted: `size` reports the sections that are loaded.) Prints "footprint: ok" when all hold.
size_tool=$1
shift
status=0
for f in "$@"; do
  # Berkeley format: text data bss dec hex filename
  set -- $("$size_tool" "$f" | tail -n 1)
  text=$1 data=$2 bss=$3
  echo "$f: text $text, data $data, bss $bss bytes"
  if [ "$data" -gt 262144 ]; then
    echo "FAILED: $f has $data bytes of initialised data (over 256 KiB)"
    status=1
  fi
  if [ $((text + data)) -gt 1048576 ]; then
    echo "FAILED: $f loads $((text + data)) bytes of text and data (over 1 MiB)"
    status=1
  fi
done
[ $status -eq 0 ] && echo "footprint: ok"
exit $status
