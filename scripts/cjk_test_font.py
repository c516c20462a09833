#!/usr/bin/env python3
"""Write the small CJK font the window tests render Chinese with.

    apt-get install fonts-wqy-microhei && pip install fonttools
    python3 scripts/cjk_test_font.py

egui_kittest has no system font provider, so the tests supply a font: a
subset of WenQuanYi Micro Hei (Apache-2.0, see tests/data/fonts/LICENSE)
holding every character of the Chinese sample dataset and of crossrec's own
Chinese labels, written to tests/data/fonts/wqy-microhei-subset.ttf.
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
OUT = ROOT / "tests" / "data" / "fonts" / "wqy-microhei-subset.ttf"

text = "中文示例商品帖子"
for path in sorted((ROOT / "assets" / "sample-zh").glob("*")):
    if path.suffix in (".csv", ".toml"):
        text += path.read_text(encoding="utf-8")
chars = sorted({c for c in text if ord(c) > 0x2000})
subprocess.run(
    [
        "pyftsubset", str(SOURCE), "--font-number=0", f"--output-file={OUT}",
        "--unicodes=" + ",".join(f"U+{ord(c):04X}" for c in chars),
        "--layout-features=*", "--no-hinting", "--desubroutinize",
    ],
    check=True,
)
print(f"{OUT}: {len(chars)} characters, {OUT.stat().st_size} bytes")
