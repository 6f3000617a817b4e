"""Stand-in for ``SpoutGL.enums``."""

GL_RGBA = 0x1908
GL_BGRA_EXT = 0x80E1
