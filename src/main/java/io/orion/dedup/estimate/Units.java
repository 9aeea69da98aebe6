package io.orion.dedup.estimate;

/** Human sizes for the estimate's text output (binary units, like zdb). */
final class Units {
    private Units() {
    }

    /** 4096 → "4K", 65536 → "64K". */
    static String blockSize(int bytes) {
        return bytes % 1024 == 0 ? bytes / 1024 + "K" : Integer.toString(bytes);
    }

    /** 1536 → "1.50K", 3 << 30 → "3.00G"; below 1 KiB plain bytes. */
    static String bytes(double n) {
        String[] u = {"", "K", "M", "G", "T", "P", "E"};
        int i = 0;
        while (Math.abs(n) >= 1024 && i < u.length - 1) {
            n /= 1024;
            i++;
        }
        return i == 0 ? String.format("%.0f", n) : String.format("%.2f%s", n, u[i]);
    }

    /** Counts like zdb: 1234567 → "1.18M". */
    static String count(long n) {
        return n < 1024 ? Long.toString(n) : bytes(n);
    }
}
