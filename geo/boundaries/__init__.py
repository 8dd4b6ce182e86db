"""Boundary hierarchy: district → street office/township → community/village → grid."""
