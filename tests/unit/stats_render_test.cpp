// The SVG drawn by a real browser: headless Chromium renders the picture of a fixed snapshot to a
// PNG, and a small decoder (Python's standard library only) checks that it is not blank: many
// colours, and the budget line's red and the bars' blue both present. Skipped without chromium.
// The same for the picture of a `smplock record` trace (tests/report/small.trace.json).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "smplock/report.hpp"

namespace smplock::stats {
Snapshot fixed_snapshot();  // stats_fixture.cpp

namespace {

// Decodes an 8-bit RGB/RGBA PNG (the kind Chromium writes) and prints
// "<width> <height> <colours> <red pixels> <blue pixels>".
constexpr const char* kPngCheck = R"PY(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w, h, ctype = 8, b'', 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), 'unexpected PNG format'
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, red, blue = set(), 0, 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pr) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        colours.add((r, g, bl))
        if abs(r - 0xd6) < 24 and abs(g - 0x27) < 24 and abs(bl - 0x28) < 24: red += 1
        if abs(r - 0x1f) < 24 and abs(g - 0x77) < 24 and abs(bl - 0xb4) < 24: blue += 1
    prev = line
print(w, h, len(colours), red, blue)
)PY";

bool have(const char* program) {
  const std::string cmd = std::string("command -v ") + program + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Renders `svg` in headless Chromium and checks the PNG is a real picture of the report.
void check_drawn(const std::string& svg) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("smplock-render-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "profile");
  std::ofstream(dir / "report.svg") << svg;
  std::ofstream(dir / "check.py") << kPngCheck;
  const std::string png = (dir / "out.png").string();
  const std::string cmd =
      "cd " + dir.string() + " && HOME=" + dir.string() +
      " timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run"
      " --disable-component-update --disable-sync --user-data-dir=" + (dir / "profile").string() +
      " --screenshot=" + png + " --window-size=960,800 file://" + (dir / "report.svg").string() +
      " > chromium.log 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "chromium failed; see " << dir / "chromium.log";
  ASSERT_TRUE(std::filesystem::exists(png)) << "no screenshot written";

  const std::string check = "python3 " + (dir / "check.py").string() + " " + png + " > " + (dir / "check.txt").string();
  ASSERT_EQ(std::system(check.c_str()), 0) << "PNG check failed";
  std::ifstream in(dir / "check.txt");
  unsigned w = 0, h = 0, colours = 0, red = 0, blue = 0;
  in >> w >> h >> colours >> red >> blue;
  EXPECT_EQ(w, 960u);
  EXPECT_EQ(h, 800u);
  EXPECT_GE(colours, 16u) << "a blank or single-colour picture";  // text antialiasing alone gives many
  EXPECT_GE(red, 200u) << "the budget line and the over-budget bar are missing";
  EXPECT_GE(blue, 200u) << "the within-budget bars are missing";
  std::filesystem::remove_all(dir);
}

TEST(StatsRender, ChromiumDrawsTheSvg) {
  if (!have("chromium")) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  if (!have("python3")) GTEST_SKIP() << "python3 is not installed";
  check_drawn(to_svg(fixed_snapshot()));
}

TEST(StatsRender, ChromiumDrawsATracesSvg) {
  if (!have("chromium")) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  if (!have("python3")) GTEST_SKIP() << "python3 is not installed";
  // The checked-in fixture, by the source tree's absolute path (__FILE__ is relative under ccache's
  // CCACHE_BASEDIR, which scripts/test.sh sets).
  const std::filesystem::path fixture = std::filesystem::path(SMPLOCK_SOURCE_DIR) / "tests" / "report" / "small.trace.json";
  std::ifstream in(fixture);
  ASSERT_TRUE(in) << "cannot read " << fixture;
  std::stringstream text;
  text << in.rdbuf();
  const TraceReport r = trace_from_json(text.str());
  ReportOptions options;
  options.from_trace = true;
  check_drawn(to_svg({NamedSnapshot{trace_title(r.trace), r.snapshot}}, options));
}

}  // namespace
}  // namespace smplock::stats
