{
  "targets": [
    {
      "target_name": "vbus_native",
      "sources": ["vbus_native.cc"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"]
    }
  ]
}
