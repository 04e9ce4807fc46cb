// Parsing of list-valued command-line arguments ("1,2,3", "2-10", "0.5:2").
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mainstream {

// "1,2,5" or ranges "2-10" (inclusive, step 1) or a mix "1,3-5".
std::vector<int> ParseIntList(const std::string& text, const std::string& flag);
// "1,2.5,10".
std::vector<double> ParseDoubleList(const std::string& text, const std::string& flag);
// "a,b,c".
std::vector<std::string> SplitList(const std::string& text, char sep = ',');
std::string Trim(const std::string& s);
// "NAME=VALUE" (e.g. --labels ped=ped.csv) -> (NAME, VALUE), both trimmed.
// InputError "FLAG: expected EXPECTED, got ..." when there is no '=' or a
// side is empty.
std::pair<std::string, std::string> ParseAssignment(const std::string& text,
                                                    const std::string& flag,
                                                    const std::string& expected);

}  // namespace mainstream
