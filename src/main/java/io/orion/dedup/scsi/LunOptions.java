package io.orion.dedup.scsi;

/**
 * Per-LUN settings the operator chooses.
 *
 * @param readOnly the LUN refuses every write with DATA PROTECT, WRITE PROTECTED (SBC-4 §4.12)
 * @param productId INQUIRY PRODUCT IDENTIFICATION (≤ 16 ASCII characters), or null for the default
 * @param vendorId INQUIRY T10 VENDOR IDENTIFICATION (≤ 8 ASCII characters), or null for the default
 */
public record LunOptions(boolean readOnly, String productId, String vendorId) {

    public static final String DEFAULT_VENDOR = "ORION";
    public static final String DEFAULT_PRODUCT = "DEDUP VOLUME";

    public static LunOptions defaults() {
        return new LunOptions(false, null, null);
    }

    public String vendorOrDefault() {
        return vendorId == null || vendorId.isBlank() ? DEFAULT_VENDOR : vendorId;
    }

    public String productOrDefault() {
        return productId == null || productId.isBlank() ? DEFAULT_PRODUCT : productId;
    }
}
