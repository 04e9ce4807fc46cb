# Training through Slurm end to end (included by tests/CMakeLists.txt): a one-node Slurm on
# localhost (scripts/slurm_local.sh: munged, slurmctld, slurmd started and stopped by the
# test), the pipeline's train step as a job array (TRAIN_ON=slurm) on a tiny synthetic video,
# the package compared with the one trained locally, a task killed mid-candidate and resumed,
# and the bad input (tests/scripts/slurm_e2e.sh; docs/training.md, "Scaling out"). Needs
# Debian's slurm-wlm and munge (scripts/setup.sh installs them); skipped when not root.
if(TARGET mstrain)
  add_test(NAME slurm_train
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/slurm_e2e.sh ${PROJECT_BINARY_DIR}/tools)
  set_tests_properties(slurm_train PROPERTIES LABELS e2e TIMEOUT 400 SKIP_RETURN_CODE 77)
endif()
