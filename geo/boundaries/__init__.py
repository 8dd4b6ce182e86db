"""Boundary hierarchy: city → district → street office/township → community/village → grid."""
