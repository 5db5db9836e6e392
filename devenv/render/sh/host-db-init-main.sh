# shellcheck shell=bash

init_files=()
for dir; do
    devenv_folder_files "$dir"
done
docker_process_init_files "${init_files[@]}"
