package io.orion.dedup.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * A plain-text table for human output: a header row in capitals, columns padded to their widest
 * cell, numeric-looking cells right-aligned, two spaces between columns.
 */
final class Table {

    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    Table(String... headers) {
        this.headers = List.of(headers);
    }

    Table row(Object... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException("expected " + headers.size() + " cells, got " + cells.length);
        }
        List<String> r = new ArrayList<>();
        for (Object c : cells) {
            r.add(c == null ? "-" : c.toString());
        }
        rows.add(r);
        return this;
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    void print(PrintWriter out) {
        int n = headers.size();
        int[] width = new int[n];
        boolean[] right = new boolean[n];
        for (int i = 0; i < n; i++) {
            width[i] = headers.get(i).length();
            right[i] = !rows.isEmpty();
        }
        for (List<String> r : rows) {
            for (int i = 0; i < n; i++) {
                width[i] = Math.max(width[i], r.get(i).length());
                if (!numeric(r.get(i))) {
                    right[i] = false;
                }
            }
        }
        line(out, headers, width, right);
        for (List<String> r : rows) {
            line(out, r, width, right);
        }
        out.flush();
    }

    private static void line(PrintWriter out, List<String> cells, int[] width, boolean[] right) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            String c = cells.get(i);
            String pad = " ".repeat(width[i] - c.length());
            if (i > 0) {
                sb.append("  ");
            }
            boolean last = i == cells.size() - 1;
            sb.append(right[i] ? pad + c : last ? c : c + pad);
        }
        out.println(sb.toString().stripTrailing());
    }

    /** Looks like a number, size or percentage: "12", "1.5 GiB", "75.0%", "-". */
    static boolean numeric(String s) {
        return s.equals("-") || s.matches("-?[0-9][0-9.,]*( ?[KMGTPE]?i?B|%)?");
    }
}
