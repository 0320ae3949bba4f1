#!/usr/bin/env bash
# The worker functions run in child shells started by xargs, which shellcheck cannot follow.
# shellcheck disable=SC2317
#
# Download script for a data package shared with you through datasharing.
#
#   bash download-data.<package>.sh --download-path DIR [--parallel N] [--dry-run] [--print-tree]
#
# Needs bash (3.2 or newer), curl, and md5sum, md5 or openssl. Runs on Linux and macOS.
# Files already downloaded and complete are kept; every file is checked against its checksum (or
# its size, where no checksum is known) at the end, and the script exits non-zero naming any file
# that does not match. Run it again to resume an interrupted download.
#
# The URLs below are presigned: anyone holding this script can download the data until they
# expire. Keep it private.

if [ -z "${BASH_VERSION:-}" ]; then
  echo "This script needs bash: run it as 'bash $0'." >&2
  exit 2
fi
set -u
set -o pipefail
# Byte-wise text tools and '.' as decimal point whatever the user's locale.
export LC_ALL=C

PACKAGE_ID='@PACKAGE_ID@'
PACKAGE_NAME='@PACKAGE_NAME@'
PRESIGN_ID='@PRESIGN_ID@'
GENERATED_AT='@GENERATED_AT@'
FILE_COUNT='@FILE_COUNT@'
TOTAL_BYTES='@TOTAL_BYTES@'
URLS_EXPIRE_AT='@URLS_EXPIRE_AT@'
URLS_EXPIRE_EPOCH='@URLS_EXPIRE_EPOCH@'
MANIFEST_NAME='@MANIFEST_NAME@'
CASE_COLLISIONS='@CASE_COLLISIONS@'
# Partial downloads and run records live here, inside the download folder (same filesystem, so
# finished files are renamed into place atomically).
STATE_NAME='.datasharing-download'

# One line per file: index, size in bytes, checksum (md5:HEX, sha256:HEX or -), relative path,
# URL; tab-separated. Relative paths were checked when the script was made: no absolute paths,
# no '.' or '..' segments, no control characters.
file_table() {
  cat <<'DATASHARING_END_OF_FILE_TABLE'
@FILE_TABLE@
DATASHARING_END_OF_FILE_TABLE
}

# The package manifest (manifest.tsv), written next to the data.
manifest_table() {
  cat <<'DATASHARING_END_OF_MANIFEST'
@MANIFEST@
DATASHARING_END_OF_MANIFEST
}

usage() {
  cat <<EOF
Usage: bash download-data.$PACKAGE_NAME.sh [options]

Downloads package $PACKAGE_NAME ($PACKAGE_ID): $FILE_COUNT files, $(human_size "$TOTAL_BYTES").
The download URLs in this script expire at $URLS_EXPIRE_AT.

Options:
  --download-path DIR  folder to download into (created if missing; default ./$PACKAGE_NAME)
  --parallel N         number of files downloaded at the same time (1-64, default 4)
  --dry-run            show what would be downloaded; write nothing
  --print-tree         print the folder layout of the package; write nothing
  -h, --help           show this help

Files already present and complete are not downloaded again. At the end every file is checked
against its checksum (MD5 or SHA-256; its size where no checksum is known); the script exits
with a non-zero status naming the files that do not match. Run it again to resume.
EOF
}

die_usage() {
  echo "error: $1" >&2
  echo "Run with -h for help." >&2
  exit 2
}

human_size() {
  awk -v bytes="$1" 'BEGIN {
    split("B KiB MiB GiB TiB PiB", unit, " ")
    i = 1
    while (bytes >= 1024 && i < 6) { bytes /= 1024; i++ }
    if (i == 1) printf "%d B", bytes; else printf "%.1f %s", bytes, unit[i]
  }'
}

# --- Functions also run by the parallel workers (copied into them with `declare -f`) ----------

say() {
  printf '%s\n' "$*"
}

file_size() {
  local size
  size=$(wc -c < "$1") || return 1
  printf '%s\n' "$size" | tr -d ' \t'
}

file_md5() {
  case "$DS_MD5_TOOL" in
    md5sum) md5sum < "$1" | awk '{ print $1 }' ;;
    md5) md5 -q < "$1" ;;
    openssl) openssl dgst -md5 < "$1" | awk '{ print $NF }' ;;
    *) return 1 ;;
  esac
}

file_sha256() {
  case "$DS_SHA256_TOOL" in
    sha256sum) sha256sum < "$1" | awk '{ print $1 }' ;;
    shasum) shasum -a 256 < "$1" | awk '{ print $1 }' ;;
    openssl) openssl dgst -sha256 < "$1" | awk '{ print $NF }' ;;
    *) return 1 ;;
  esac
}

# Prints what is wrong with file $1 (expected size $2, checksum $3), or nothing when it is good.
check_file() {
  local actual
  actual=$(file_size "$1")
  if [ "$actual" != "$2" ]; then
    say "size is ${actual:-unknown} bytes, expected $2"
    return 0
  fi
  case "$3" in
    md5:*)
      actual=$(file_md5 "$1")
      [ "$actual" = "${3#md5:}" ] || say "MD5 is ${actual:-unknown}, expected ${3#md5:}"
      ;;
    sha256:*)
      actual=$(file_sha256 "$1")
      [ "$actual" = "${3#sha256:}" ] || say "SHA-256 is ${actual:-unknown}, expected ${3#sha256:}"
      ;;
  esac
}

# Appends one tab-separated line to run record $1 (one short write: safe from parallel workers).
record() {
  local name="$1"
  shift
  local IFS=$'\t'
  printf '%s\n' "$*" >> "$DS_RUN/$name"
}

urls_have_expired() {
  [ "$(date -u +%s)" -ge "$URLS_EXPIRE_EPOCH" ]
}

# Downloads file number $3 to $DS_DIR/$1 (size $2) through a partial file, resuming it when
# present. The file appears under its name only once it has the expected size: an HTTP error
# never leaves an error page where data should be. curl reads the URL from a private config file
# so that it never shows in the process list of a shared machine.
download_file() {
  local rel="$1" size="$2" index="$3"
  local target="$DS_DIR/$rel" part="$DS_STATE/partial/$rel"
  local attempt=0 have code rc errors
  mkdir -p "${part%/*}" "${target%/*}" || {
    record failed "$rel" "cannot create its folder"
    return 1
  }
  errors="$part.curl-errors"
  while [ "$attempt" -lt 3 ]; do
    attempt=$((attempt + 1))
    if [ -f "$DS_STATE/expired" ]; then
      record failed "$rel" "not attempted: the URLs have expired"
      return 1
    fi
    have=0
    if [ -f "$part" ]; then have=$(file_size "$part") || have=0; fi
    have=${have:-0}
    if [ "$have" -gt "$size" ]; then
      rm -f "$part"
      have=0
    fi
    if [ "$have" -lt "$size" ] || [ ! -f "$part" ]; then
      code=$(curl --fail --silent --show-error --retry 5 --retry-delay 2 --retry-connrefused \
        --connect-timeout 30 --speed-limit 1024 --speed-time 120 \
        -C - -o "$part" -w '%{http_code}' --config "$DS_STATE/urls/$index" 2> "$errors")
      rc=$?
      if [ "$rc" -ne 0 ]; then
        case "$rc:$code" in
          22:403)
            if urls_have_expired; then
              : > "$DS_STATE/expired"
              record failed "$rel" "HTTP 403: the download URLs expired at $URLS_EXPIRE_AT"
            else
              record failed "$rel" "HTTP 403 Forbidden: the URL was refused (expired, revoked, or this computer's clock is wrong)"
            fi
            rm -f "$errors"
            return 1
            ;;
          22:404)
            record failed "$rel" "HTTP 404: the file is no longer at its source"
            rm -f "$errors"
            return 1
            ;;
          22:416 | 33:*)
            # The partial file cannot be resumed: start again from the beginning.
            rm -f "$part"
            ;;
          22:4*)
            record failed "$rel" "HTTP $code"
            rm -f "$errors"
            return 1
            ;;
        esac
        continue
      fi
      # curl does not create the output file for an empty body.
      [ -f "$part" ] || : > "$part"
      have=$(file_size "$part")
    fi
    if [ "$have" = "$size" ]; then
      rm -f "$errors"
      mv -f "$part" "$target" || {
        record failed "$rel" "cannot move the finished download into place"
        return 1
      }
      return 0
    fi
  done
  record failed "$rel" "download failed after $attempt attempts: $(tail -n 1 "$errors" 2> /dev/null)"
  rm -f "$errors"
  return 1
}

# Worker for the download phase: fetches one file unless it is already there with its size
# (its checksum is checked in the verify phase).
fetch_one() {
  [ $# -eq 4 ] || return 0
  local index="$1" size="$2" rel="$4" target
  target="$DS_DIR/$rel"
  if [ -f "$target" ] && [ "$(file_size "$target")" = "$size" ]; then
    return 0
  fi
  download_file "$rel" "$size" "$index" || return 1
  record downloaded "$rel" "$size"
  say "[$index/$FILE_COUNT] downloaded $rel"
}

# Worker for the verify phase: checks one file; a file that does not match is downloaded again
# once, from scratch, and checked again.
verify_one() {
  [ $# -eq 4 ] || return 0
  local index="$1" size="$2" checksum="$3" rel="$4" target problem
  target="$DS_DIR/$rel"
  if [ ! -f "$target" ]; then
    record missing "$rel" "missing (not downloaded)"
    return 1
  fi
  problem=$(check_file "$target" "$size" "$checksum")
  if [ -n "$problem" ]; then
    say "[$index/$FILE_COUNT] $rel does not match ($problem): downloading it again"
    rm -f "$target" "$DS_STATE/partial/$rel"
    download_file "$rel" "$size" "$index" || return 1
    record downloaded "$rel" "$size"
    problem=$(check_file "$target" "$size" "$checksum")
    if [ -n "$problem" ]; then
      record mismatch "$rel" "$problem (downloaded twice; the source differs from the package)"
      return 1
    fi
  fi
  record verified "$rel" "${checksum%%:*}"
}

WORKER_FUNCTIONS="$(declare -f say file_size file_md5 file_sha256 check_file record \
  urls_have_expired download_file fetch_one verify_one)"

# Runs worker $1 on every file (index, size, checksum, path: no URL), $PARALLEL at a time.
run_workers() {
  file_table | awk -F '\t' '{ printf "%s\t%s\t%s\t%s\n", $1, $2, $3, $4 }' |
    tr '\t\n' '\000\000' | xargs -0 -n 4 -P "$PARALLEL" "$BASH" -c \
    "set -u; $WORKER_FUNCTIONS"$'\n'"$1"' "$@"' datasharing-worker
  local rc=$?
  # 123: some workers reported failures (recorded in the run files); anything else is fatal.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 123 ]; then
    echo "error: the $1 workers stopped unexpectedly (xargs exit status $rc)." >&2
    exit 1
  fi
}

count_lines() {
  if [ -f "$1" ]; then
    wc -l < "$1" | tr -d ' \t'
  else
    echo 0
  fi
}

print_tree() {
  say "$DOWNLOAD_PATH/"
  say "  $MANIFEST_NAME"
  file_table | awk -F '\t' '
    function human(bytes,   unit, i) {
      split("B KiB MiB GiB TiB PiB", unit, " ")
      i = 1
      while (bytes >= 1024 && i < 6) { bytes /= 1024; i++ }
      if (i == 1) return sprintf("%d B", bytes)
      return sprintf("%.1f %s", bytes, unit[i])
    }
    function indent(depth,   out, i) {
      out = ""
      for (i = 0; i < depth; i++) out = out "  "
      return out
    }
    {
      n = split($4, part, "/")
      same = 0
      while (same < n - 1 && same < previous_n - 1 && part[same + 1] == previous[same + 1]) same++
      for (i = same + 1; i < n; i++) printf "%s%s/\n", indent(i), part[i]
      printf "%s%s  (%s)\n", indent(n), part[n], human($2)
      for (i = 1; i <= n; i++) previous[i] = part[i]
      previous_n = n
    }'
}

dry_run() {
  local index size checksum rel todo=0 todo_bytes=0 present=0
  while IFS=$'\t' read -r index size checksum rel _; do
    [ -n "$rel" ] || continue
    if [ -f "$DOWNLOAD_PATH/$rel" ] && [ "$(file_size "$DOWNLOAD_PATH/$rel")" = "$size" ]; then
      present=$((present + 1))
      say "present        $rel"
    else
      todo=$((todo + 1))
      todo_bytes=$((todo_bytes + size))
      say "would download $rel ($(human_size "$size"))"
    fi
  done < <(file_table)
  say "Dry run: $todo files ($(human_size "$todo_bytes")) would be downloaded into $DOWNLOAD_PATH;" \
    "$present already present (their checksums are checked on a real run). Nothing was written."
}

# --- Main ---------------------------------------------------------------------------------------

DOWNLOAD_PATH="./$PACKAGE_NAME"
PARALLEL=4
DRY_RUN=0
PRINT_TREE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --download-path)
      [ $# -ge 2 ] || die_usage "--download-path needs a folder"
      DOWNLOAD_PATH="$2"
      shift 2
      ;;
    --download-path=*)
      DOWNLOAD_PATH="${1#*=}"
      shift
      ;;
    --parallel)
      [ $# -ge 2 ] || die_usage "--parallel needs a number"
      PARALLEL="$2"
      shift 2
      ;;
    --parallel=*)
      PARALLEL="${1#*=}"
      shift
      ;;
    --dry-run)
      DRY_RUN=1
      shift
      ;;
    --print-tree)
      PRINT_TREE=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      die_usage "unknown option or argument: $1"
      ;;
  esac
done
case "$PARALLEL" in
  '' | *[!0-9]*) die_usage "--parallel needs a whole number from 1 to 64, not '$PARALLEL'" ;;
esac
PARALLEL=$((10#$PARALLEL))
if [ "$PARALLEL" -lt 1 ] || [ "$PARALLEL" -gt 64 ]; then
  die_usage "--parallel needs a whole number from 1 to 64, not '$PARALLEL'"
fi
[ -n "$DOWNLOAD_PATH" ] || die_usage "--download-path needs a folder"
# A folder named like an option would be read as one by the tools below.
case "$DOWNLOAD_PATH" in
  -*) DOWNLOAD_PATH="./$DOWNLOAD_PATH" ;;
esac
DOWNLOAD_PATH="${DOWNLOAD_PATH%/}"
[ -n "$DOWNLOAD_PATH" ] || DOWNLOAD_PATH="/"

say "Package:  $PACKAGE_NAME ($PACKAGE_ID)"
say "Files:    $FILE_COUNT, $(human_size "$TOTAL_BYTES") ($TOTAL_BYTES bytes)"
NOW=$(date -u +%s)
if [ "$NOW" -ge "$URLS_EXPIRE_EPOCH" ]; then
  say "URLs:     EXPIRED at $URLS_EXPIRE_AT"
else
  REMAINING=$((URLS_EXPIRE_EPOCH - NOW))
  say "URLs:     expire at $URLS_EXPIRE_AT (in $((REMAINING / 86400)) d $((REMAINING % 86400 / 3600)) h $((REMAINING % 3600 / 60)) min)"
fi
say "Script:   presign $PRESIGN_ID, made at $GENERATED_AT"
if [ "$CASE_COLLISIONS" -gt 0 ]; then
  say "Warning:  $CASE_COLLISIONS paths differ only in upper/lower case; on a case-insensitive" \
    "filesystem (the macOS default) they overwrite each other."
fi

if [ "$PRINT_TREE" -eq 1 ]; then
  print_tree
fi
if [ "$DRY_RUN" -eq 1 ]; then
  dry_run
fi
if [ "$PRINT_TREE" -eq 1 ] || [ "$DRY_RUN" -eq 1 ]; then
  exit 0
fi

if [ "$NOW" -ge "$URLS_EXPIRE_EPOCH" ]; then
  echo "error: the download URLs in this script EXPIRED at $URLS_EXPIRE_AT; nothing was downloaded." >&2
  echo "Ask the sender for a new download script; it resumes where this one stopped." >&2
  exit 3
fi

if ! command -v curl > /dev/null 2>&1; then
  echo "error: curl is needed; install it and run this script again." >&2
  exit 2
fi
DS_MD5_TOOL=""
for tool in md5sum md5 openssl; do
  if command -v "$tool" > /dev/null 2>&1; then
    DS_MD5_TOOL="$tool"
    break
  fi
done
DS_SHA256_TOOL=""
for tool in sha256sum shasum openssl; do
  if command -v "$tool" > /dev/null 2>&1; then
    DS_SHA256_TOOL="$tool"
    break
  fi
done
if file_table | awk -F '\t' '$3 ~ /^md5:/ { found = 1 } END { exit !found }' && [ -z "$DS_MD5_TOOL" ]; then
  echo "error: checking MD5 checksums needs md5sum, md5 or openssl; install one of them." >&2
  exit 2
fi
if file_table | awk -F '\t' '$3 ~ /^sha256:/ { found = 1 } END { exit !found }' && [ -z "$DS_SHA256_TOOL" ]; then
  echo "error: checking SHA-256 checksums needs sha256sum, shasum or openssl; install one of them." >&2
  exit 2
fi

DS_DIR="$DOWNLOAD_PATH"
DS_STATE="$DS_DIR/$STATE_NAME"
DS_RUN="$DS_STATE/run"
mkdir -p "$DS_DIR" "$DS_STATE/partial" || {
  echo "error: cannot create $DS_DIR" >&2
  exit 1
}
rm -rf "$DS_RUN" "$DS_STATE/expired"
mkdir -p "$DS_RUN" || exit 1
export DS_DIR DS_STATE DS_RUN DS_MD5_TOOL DS_SHA256_TOOL URLS_EXPIRE_AT URLS_EXPIRE_EPOCH FILE_COUNT
trap 'rm -rf "$DS_STATE/urls"; echo "Interrupted: run the script again to resume." >&2; exit 130' INT TERM

# One curl config file per URL, in a folder only this user can open (see download_file).
rm -rf "$DS_STATE/urls"
if ! mkdir -m 700 "$DS_STATE/urls" ||
  ! file_table | awk -F '\t' '{
      config = ENVIRON["DS_STATE"] "/urls/" $1
      printf "url = \"%s\"\n", $5 > config
      close(config)
    }'; then
  echo "error: cannot write the URL files under $DS_STATE" >&2
  exit 1
fi

# Rewritten only when it changed, so a run with nothing to do changes nothing.
MANIFEST_TMP="$DS_STATE/$MANIFEST_NAME.tmp"
if ! manifest_table > "$MANIFEST_TMP"; then
  echo "error: cannot write $MANIFEST_TMP" >&2
  exit 1
fi
if cmp -s "$MANIFEST_TMP" "$DS_DIR/$MANIFEST_NAME"; then
  rm -f "$MANIFEST_TMP"
elif ! mv -f "$MANIFEST_TMP" "$DS_DIR/$MANIFEST_NAME"; then
  echo "error: cannot write $DS_DIR/$MANIFEST_NAME" >&2
  exit 1
fi

say "Downloading into $DS_DIR ($PARALLEL at a time) ..."
run_workers fetch_one
say "Checking every file ..."
run_workers verify_one

DOWNLOADED=$(count_lines "$DS_RUN/downloaded")
DOWNLOADED_BYTES=0
if [ -f "$DS_RUN/downloaded" ]; then
  DOWNLOADED_BYTES=$(awk -F '\t' '{ total += $2 } END { printf "%.0f", total }' "$DS_RUN/downloaded")
fi
VERIFIED=$(count_lines "$DS_RUN/verified")
# One line per problem file: the download failure if there was one, else the check result.
cat "$DS_RUN/failed" "$DS_RUN/mismatch" "$DS_RUN/missing" 2> /dev/null |
  awk -F '\t' '!seen[$1]++' > "$DS_RUN/problems"
PROBLEMS=$(count_lines "$DS_RUN/problems")

rm -rf "$DS_STATE/urls"
say "Downloaded $DOWNLOADED files ($(human_size "$DOWNLOADED_BYTES")) in this run."
if [ "$PROBLEMS" -eq 0 ] && [ "$VERIFIED" -eq "$FILE_COUNT" ]; then
  BY_MD5=$(awk -F '\t' '$2 == "md5"' "$DS_RUN/verified" | wc -l | tr -d ' \t')
  BY_SHA256=$(awk -F '\t' '$2 == "sha256"' "$DS_RUN/verified" | wc -l | tr -d ' \t')
  say "All $FILE_COUNT files are complete and verified ($BY_MD5 by MD5, $BY_SHA256 by SHA-256," \
    "$((FILE_COUNT - BY_MD5 - BY_SHA256)) by size only) in $DS_DIR"
  rm -rf "$DS_STATE"
  exit 0
fi

{
  echo "ERROR: $PROBLEMS of $FILE_COUNT files are missing or do not match:"
  awk -F '\t' 'NR <= 50 { printf "  %s: %s\n", $1, $2 }' "$DS_RUN/problems"
  if [ "$PROBLEMS" -gt 50 ]; then
    echo "  ... and $((PROBLEMS - 50)) more (all listed in $DS_RUN/problems)"
  fi
  if [ "$PROBLEMS" -eq 0 ]; then
    echo "  only $VERIFIED of $FILE_COUNT files could be checked; run the script again."
  fi
  if [ -f "$DS_STATE/expired" ]; then
    echo "The download URLs EXPIRED at $URLS_EXPIRE_AT. Ask the sender for a new download script;"
    echo "it keeps the files already downloaded and fetches the rest."
  else
    echo "Run the script again to retry; files already complete are kept."
  fi
} >&2
exit 1
