package dev.katmesh.launcher.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A line chart of a few series, drawn the same way as SVG (for report.html) and as PNG (Java2D,
 * headless). Points are (x, y); a series can be drawn as dots only (for per-version figures).
 */
public record Chart(String title, String xLabel, String yLabel, List<Series> series, Double yMin, Double yMax) {

    record Series(String name, String color, List<double[]> points, boolean dots) {}

    static final int WIDTH = 640;
    static final int HEIGHT = 300;
    private static final int LEFT = 60;
    private static final int RIGHT = 20;
    private static final int TOP = 48;
    private static final int BOTTOM = 44;

    private double[] range() {
        double x0 = Double.MAX_VALUE, x1 = -Double.MAX_VALUE, y0 = Double.MAX_VALUE, y1 = -Double.MAX_VALUE;
        for (Series s : series) {
            for (double[] p : s.points()) {
                if (Double.isFinite(p[1])) {
                    x0 = Math.min(x0, p[0]);
                    x1 = Math.max(x1, p[0]);
                    y0 = Math.min(y0, p[1]);
                    y1 = Math.max(y1, p[1]);
                }
            }
        }
        if (x0 > x1) {
            x0 = 0;
            x1 = 1;
            y0 = 0;
            y1 = 1;
        }
        if (yMin != null) {
            y0 = yMin;
        }
        if (yMax != null) {
            y1 = Math.max(yMax, y1);
        }
        if (x1 - x0 < 1e-9) {
            x1 = x0 + 1;
        }
        if (y1 - y0 < 1e-9) {
            y1 = y0 + 1;
        }
        return new double[] {x0, x1, y0, y1};
    }

    private double px(double[] r, double x) {
        return LEFT + (x - r[0]) / (r[1] - r[0]) * (WIDTH - LEFT - RIGHT);
    }

    private double py(double[] r, double y) {
        return HEIGHT - BOTTOM - (y - r[2]) / (r[3] - r[2]) * (HEIGHT - TOP - BOTTOM);
    }

    /** The chart as an inline SVG element. */
    String svg() {
        double[] r = range();
        StringBuilder b = new StringBuilder();
        b.append(String.format(
                Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">",
                WIDTH,
                HEIGHT,
                WIDTH,
                HEIGHT));
        b.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        b.append(String.format(
                Locale.ROOT,
                "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s</text>",
                LEFT,
                esc(title)));
        for (int i = 0; i <= 4; i++) {
            double y = r[2] + (r[3] - r[2]) * i / 4;
            double x = r[0] + (r[1] - r[0]) * i / 4;
            b.append(String.format(
                    Locale.ROOT,
                    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>",
                    LEFT,
                    WIDTH - RIGHT,
                    py(r, y),
                    py(r, y)));
            b.append(String.format(
                    Locale.ROOT,
                    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                    LEFT - 6,
                    py(r, y) + 4,
                    num(y)));
            b.append(String.format(
                    Locale.ROOT,
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                    px(r, x),
                    HEIGHT - BOTTOM + 16,
                    num(x)));
        }
        b.append(String.format(
                Locale.ROOT,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>",
                (LEFT + WIDTH - RIGHT) / 2,
                HEIGHT - 8,
                esc(xLabel)));
        b.append(String.format(
                Locale.ROOT,
                "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">%s</text>",
                HEIGHT / 2,
                HEIGHT / 2,
                esc(yLabel)));
        int legend = LEFT;
        for (Series s : series) {
            StringBuilder path = new StringBuilder();
            for (double[] p : s.points()) {
                if (!Double.isFinite(p[1])) {
                    continue;
                }
                if (s.dots()) {
                    b.append(String.format(
                            Locale.ROOT,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>",
                            px(r, p[0]),
                            py(r, p[1]),
                            s.color()));
                } else {
                    path.append(path.isEmpty() ? "M" : "L")
                            .append(String.format(Locale.ROOT, "%.1f %.1f ", px(r, p[0]), py(r, p[1])));
                }
            }
            if (!path.isEmpty()) {
                b.append("<path d=\"")
                        .append(path)
                        .append("\" fill=\"none\" stroke=\"")
                        .append(s.color())
                        .append("\" stroke-width=\"2\"/>");
            }
            b.append(String.format(
                    Locale.ROOT,
                    "<rect x=\"%d\" y=\"27\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"36\">%s</text>",
                    legend,
                    s.color(),
                    legend + 14,
                    esc(s.name())));
            legend += 14 + 7 * s.name().length() + 16;
        }
        return b.append("</svg>").toString();
    }

    /** The chart as a PNG file. */
    void png(Path file) throws IOException {
        double[] r = range();
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.setColor(Color.BLACK);
            g.drawString(title, LEFT, 20);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            for (int i = 0; i <= 4; i++) {
                double y = r[2] + (r[3] - r[2]) * i / 4;
                double x = r[0] + (r[1] - r[0]) * i / 4;
                g.setColor(new Color(0xdd, 0xdd, 0xdd));
                g.drawLine(LEFT, (int) py(r, y), WIDTH - RIGHT, (int) py(r, y));
                g.setColor(Color.DARK_GRAY);
                String ys = num(y);
                g.drawString(ys, LEFT - 6 - g.getFontMetrics().stringWidth(ys), (int) py(r, y) + 4);
                String xs = num(x);
                g.drawString(xs, (int) px(r, x) - g.getFontMetrics().stringWidth(xs) / 2, HEIGHT - BOTTOM + 16);
            }
            g.drawString(xLabel, (LEFT + WIDTH - RIGHT) / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, HEIGHT - 8);
            var saved = g.getTransform();
            g.rotate(-Math.PI / 2);
            g.drawString(yLabel, -HEIGHT / 2 - g.getFontMetrics().stringWidth(yLabel) / 2, 18);
            g.setTransform(saved);
            int legend = LEFT;
            g.setStroke(new BasicStroke(2f));
            for (Series s : series) {
                Color c = Color.decode(s.color());
                g.setColor(c);
                double[] last = null;
                for (double[] p : s.points()) {
                    if (!Double.isFinite(p[1])) {
                        continue;
                    }
                    if (s.dots()) {
                        g.fillOval((int) px(r, p[0]) - 4, (int) py(r, p[1]) - 4, 8, 8);
                    } else if (last != null) {
                        g.drawLine((int) px(r, last[0]), (int) py(r, last[1]), (int) px(r, p[0]), (int) py(r, p[1]));
                    }
                    last = p;
                }
                g.fillRect(legend, 27, 10, 10);
                g.setColor(Color.BLACK);
                g.drawString(s.name(), legend + 14, 36);
                legend += 14 + g.getFontMetrics().stringWidth(s.name()) + 16;
            }
        } finally {
            g.dispose();
        }
        ImageIO.write(image, "png", file.toFile());
    }

    private static String num(double v) {
        double a = Math.abs(v);
        return a >= 100 || v == Math.rint(v) && a < 1e6
                ? String.format(Locale.ROOT, "%.0f", v)
                : a >= 1 ? String.format(Locale.ROOT, "%.1f", v) : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
