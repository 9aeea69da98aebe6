package io.orion.dedup.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses and formats byte sizes as written in configuration files and on the command line:
 * a plain integer (bytes) or a number with a unit, {@code "256MB"}, {@code "1GiB"}, {@code "16G"},
 * {@code "1.5T"}.
 *
 * <p>Units are binary throughout, as storage administrators expect from tools like {@code vdostats}
 * and {@code targetcli}: {@code K}, {@code KB} and {@code KiB} all mean 1024 bytes, {@code M}/{@code
 * MB}/{@code MiB} 1024², and so on up to {@code P}. {@code B} means bytes. Case is ignored.
 */
public final class ByteSize {

    private static final Pattern SIZE =
            Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([kmgtp]?)(i?b?)\\s*", Pattern.CASE_INSENSITIVE);
    private static final String UNITS = "KMGTP";

    private ByteSize() {}

    /**
     * Parses a size string.
     *
     * @throws IllegalArgumentException when the text is not a size or overflows a long
     */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size (use e.g. 4096, \"256MB\", \"1GiB\")");
        }
        String unit = m.group(2).toUpperCase(Locale.ROOT);
        String suffix = m.group(3);
        if (unit.isEmpty() && suffix.toLowerCase(Locale.ROOT).startsWith("i")) {
            throw new IllegalArgumentException("not a size (use e.g. 4096, \"256MB\", \"1GiB\")");
        }
        int shift = unit.isEmpty() ? 0 : 10 * (UNITS.indexOf(unit) + 1);
        String number = m.group(1);
        if (number.contains(".")) {
            double bytes = Double.parseDouble(number) * Math.pow(2, shift);
            if (bytes >= 0x1p63) {
                throw new IllegalArgumentException("size too large");
            }
            return (long) bytes;
        }
        try {
            long n = Long.parseLong(number);
            if (shift > 0 && n > (Long.MAX_VALUE >> shift)) {
                throw new IllegalArgumentException("size too large");
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size too large");
        }
    }

    /**
     * Formats bytes for humans with a binary unit and at most one decimal: {@code 16.0 GiB},
     * {@code 512 B}.
     */
    public static String format(long bytes) {
        if (bytes < 1024 && bytes > -1024) {
            return bytes + " B";
        }
        double v = bytes;
        int unit = -1;
        while (Math.abs(v) >= 1024 && unit < UNITS.length() - 1) {
            v /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %ciB", v, UNITS.charAt(unit));
    }

    /**
     * Formats bytes as the shortest exact config string: {@code "16GiB"} when a whole number of a
     * unit, else the plain byte count.
     */
    public static String formatExact(long bytes) {
        if (bytes == 0) {
            return "0";
        }
        for (int i = UNITS.length(); i >= 1; i--) {
            long unit = 1L << (10 * i);
            if (bytes % unit == 0) {
                return (bytes / unit) + String.valueOf(UNITS.charAt(i - 1)) + "iB";
            }
        }
        return Long.toString(bytes);
    }
}
