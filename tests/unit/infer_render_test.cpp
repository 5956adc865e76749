// The order graph drawn by a real browser: headless Chromium renders the SVG of the hand-written
// bank.json trace to a PNG, and a short decoder (Python's standard library only) counts pixels of
// the colours that carry meaning: the leveled classes' blue fill, the unleveled classes' pink fill,
// the red of the cycles. A blank, broken or unstyled picture fails. Skipped without chromium.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "smplock/infer.hpp"

namespace smplock::infer {
namespace {

// Prints "<width> <height> <colours> <red> <leveled fill> <unleveled fill>" for an 8-bit RGB(A) PNG.
constexpr const char* kCount = R"PY(
import struct, sys, zlib
png = open(sys.argv[1], 'rb').read()
assert png.startswith(b'\x89PNG\r\n\x1a\n'), 'not a PNG'
at, data, width, height, kind = 8, bytearray(), 0, 0, 0
while at < len(png):
    size, tag = struct.unpack('>I4s', png[at:at + 8])
    chunk = png[at + 8:at + 8 + size]
    if tag == b'IHDR':
        width, height, depth, kind = struct.unpack('>IIBB', chunk[:10])
        assert depth == 8 and kind in (2, 6), 'unexpected PNG kind'
    elif tag == b'IDAT':
        data += chunk
    at += size + 12
px = 3 if kind == 2 else 4
rows = zlib.decompress(bytes(data))
row_bytes = width * px
above = bytearray(row_bytes)
wanted = {'red': (0xd6, 0x27, 0x28), 'blue_fill': (0xdb, 0xe9, 0xf6), 'pink_fill': (0xfb, 0xe3, 0xe3)}
counts = dict.fromkeys(wanted, 0)
colours = set()
for y in range(height):
    start = y * (row_bytes + 1)
    method = rows[start]
    row = bytearray(rows[start + 1:start + 1 + row_bytes])
    for i in range(row_bytes):
        left = row[i - px] if i >= px else 0
        up = above[i]
        corner = above[i - px] if i >= px else 0
        if method == 1: row[i] = (row[i] + left) & 255
        elif method == 2: row[i] = (row[i] + up) & 255
        elif method == 3: row[i] = (row[i] + (left + up) // 2) & 255
        elif method == 4:
            guess = left + up - corner
            best = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))[2]
            row[i] = (row[i] + best) & 255
    for x in range(0, row_bytes, px):
        rgb = (row[x], row[x + 1], row[x + 2])
        colours.add(rgb)
        for name, want in wanted.items():
            if all(abs(a - b) < 20 for a, b in zip(rgb, want)):
                counts[name] += 1
    above = row
print(width, height, len(colours), counts['red'], counts['blue_fill'], counts['pink_fill'])
)PY";

bool have(const char* program) {
  return std::system((std::string("command -v ") + program + " > /dev/null 2>&1").c_str()) == 0;
}

TEST(InferRender, ChromiumDrawsTheOrderGraph) {
  if (!have("chromium")) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  if (!have("python3")) GTEST_SKIP() << "python3 is not installed";
  const Graph g = merge({load_trace(std::string(SMPLOCK_INFER_FIXTURES) + "/bank.json")});
  const Result r = analyze(g);
  const std::string svg = to_svg(g, r);
  std::smatch size;
  ASSERT_TRUE(std::regex_search(svg, size, std::regex("width=\"([0-9]+)\" height=\"([0-9]+)\"")));
  const std::string w = size[1], h = size[2];

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("smplock-infer-render-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "profile");
  std::ofstream(dir / "graph.svg") << svg;
  std::ofstream(dir / "count.py") << kCount;
  const std::string png = (dir / "graph.png").string();
  const std::string cmd =
      "cd " + dir.string() + " && HOME=" + dir.string() +
      " timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run"
      " --disable-component-update --disable-sync --user-data-dir=" + (dir / "profile").string() +
      " --screenshot=" + png + " --window-size=" + w + "," + h + " file://" + (dir / "graph.svg").string() +
      " > chromium.log 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "chromium failed; see " << dir / "chromium.log";
  ASSERT_TRUE(std::filesystem::exists(png)) << "no screenshot written";
  const std::string count = "python3 " + (dir / "count.py").string() + " " + png + " > " + (dir / "count.txt").string();
  ASSERT_EQ(std::system(count.c_str()), 0) << "PNG check failed";

  std::ifstream in(dir / "count.txt");
  unsigned width = 0, height = 0, colours = 0, red = 0, blue_fill = 0, pink_fill = 0;
  in >> width >> height >> colours >> red >> blue_fill >> pink_fill;
  EXPECT_EQ(std::to_string(width), w);
  EXPECT_EQ(std::to_string(height), h);
  EXPECT_GE(colours, 16u) << "a blank or single-colour picture";
  EXPECT_GE(red, 300u) << "the cycles' red edges and the unleveled outlines are missing";
  EXPECT_GE(blue_fill, 6u * 3000u) << "the six leveled classes' boxes are missing";
  EXPECT_GE(pink_fill, 4u * 3000u) << "the four unleveled classes' boxes are missing";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smplock::infer
