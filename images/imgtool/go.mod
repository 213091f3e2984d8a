module agent-platform.local/imgtool

go 1.24
