"""bench/report.py's plot: GEMM GFLOP/s against M as SVG text (no third-party packages)."""
import math

MS = [1, 2, 4, 8, 16, 32, 128, 512]


def plot(path, W4A4, W4A16, BLAS, DNNL, dram, fma, vnni):
    """GFLOP/s against M (log scales), N = K = 4096, hot and cold, 1 and 2 threads, with the bounds."""
    W, H, pad = 480, 340, 55
    panels = [(t, temp) for temp in ("hot", "cold") for t in (1, 2)]
    series = [("w4a4 (ours)", "#d62728", W4A4), ("w4a16 (ours)", "#ff7f0e", W4A16), ("sgemm (OpenBLAS)", "#1f77b4", BLAS),
              ("int8 (oneDNN)", "#2ca02c", DNNL)]
    ymin, ymax = 1.0, 4000.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{2 * H + 40}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']

    def xy(M, v, ox, oy):
        x = ox + pad + (math.log2(M) / math.log2(512)) * (W - 2 * pad)
        y = oy + H - pad - (math.log10(max(v, ymin)) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)) * (H - 2 * pad)
        return x, y

    for i, (t, temp) in enumerate(panels):
        ox, oy = (i % 2) * W, (i // 2) * H
        out.append(f'<text x="{ox + W / 2}" y="{oy + 18}" text-anchor="middle" font-size="13">N = K = 4096, {temp}, {t} thread(s)</text>')
        out.append(f'<rect x="{ox + pad}" y="{oy + pad}" width="{W - 2 * pad}" height="{H - 2 * pad}" fill="none" stroke="#999"/>')
        for v in (1, 10, 100, 1000):
            _, y = xy(1, v, ox, oy)
            out.append(f'<line x1="{ox + pad}" y1="{y}" x2="{ox + W - pad}" y2="{y}" stroke="#eee"/>'
                       f'<text x="{ox + pad - 5}" y="{y + 4}" text-anchor="end">{v}</text>')
        for M in MS:
            x, _ = xy(M, ymin, ox, oy)
            out.append(f'<text x="{x}" y="{oy + H - pad + 15}" text-anchor="middle">{M}</text>')
        out.append(f'<text x="{ox + W / 2}" y="{oy + H - pad + 30}" text-anchor="middle">M (activation rows)</text>')
        # Bounds: int8 and f32 peaks; for cold, the DRAM roofline of NVFP4 weights.
        for peak, color, label in ((vnni[t], "#2ca02c", "int8 peak"), (fma[t], "#1f77b4", "f32 FMA peak")):
            pts = []
            for M in MS:
                b = min(peak, 2 * M / 0.5625 * dram[t]) if temp == "cold" and label == "int8 peak" else peak
                pts.append(xy(M, b, ox, oy))
            out.append(f'<polyline fill="none" stroke="{color}" stroke-dasharray="5,4" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            out.append(f'<text x="{pts[-1][0] - 2}" y="{pts[-1][1] - 4}" text-anchor="end" fill="{color}">'
                       f'{label + (" / DRAM roofline" if temp == "cold" and label == "int8 peak" else "")}</text>')
        for name, color, fn in series:
            pts = [(M, fn("4096x4096", M, t, temp)) for M in MS]
            pts = [xy(M, v, ox, oy) for M, v in pts if v]
            if pts:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
                out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in pts)
    for j, (name, color, _) in enumerate(series):
        out.append(f'<rect x="{20 + j * 230}" y="{2 * H + 15}" width="14" height="4" fill="{color}"/>'
                   f'<text x="{40 + j * 230}" y="{2 * H + 21}">{name}</text>')
    out.append(f'<text x="{2 * W - 10}" y="{2 * H + 21}" text-anchor="end">GFLOP/s (log), dashed: bounds</text>')
    out.append("</svg>")
    with open(path, "w") as fo:
        fo.write("\n".join(out) + "\n")
